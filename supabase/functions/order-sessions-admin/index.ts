// Where `supabase functions deploy` looks for the function. The code lives in
// edge/order-sessions-admin/ (see edge/README.md); this file only points there.
import '../../../edge/order-sessions-admin/index.ts';
