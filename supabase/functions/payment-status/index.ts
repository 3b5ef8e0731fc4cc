// Where `supabase functions deploy` looks for the function. The code lives in
// edge/payment-status/ (see edge/README.md); this file only points there.
import '../../../edge/payment-status/index.ts';
