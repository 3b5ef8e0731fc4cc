// Where `supabase functions deploy` looks for the function. The code lives in
// edge/mercadopago-webhook/ (see edge/README.md); this file only points there.
import '../../../edge/mercadopago-webhook/index.ts';
