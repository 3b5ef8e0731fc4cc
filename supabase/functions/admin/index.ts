// Where `supabase functions deploy` looks for the function. The code lives in
// edge/admin/ (see edge/README.md); this file only points there.
import '../../../edge/admin/index.ts';
