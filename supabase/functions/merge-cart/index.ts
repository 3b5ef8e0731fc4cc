// Where `supabase functions deploy` looks for the function. The code lives in
// edge/merge-cart/ (see edge/README.md); this file only points there.
import '../../../edge/merge-cart/index.ts';
