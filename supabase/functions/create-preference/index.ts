// Where `supabase functions deploy` looks for the function. The code lives in
// edge/create-preference/ (see edge/README.md); this file only points there.
import '../../../edge/create-preference/index.ts';
