// Where `supabase functions deploy` looks for the function. The code lives in
// edge/send-emails/ (see edge/README.md); this file only points there.
import '../../../edge/send-emails/index.ts';
