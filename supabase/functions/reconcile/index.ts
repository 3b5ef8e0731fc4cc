// Where `supabase functions deploy` looks for the function. The code lives in
// edge/reconcile/ (see edge/README.md); this file only points there.
import '../../../edge/reconcile/index.ts';
