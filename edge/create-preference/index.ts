import { createPreferenceHandler } from '../_shared/handlers.ts';
import { serve } from '../_shared/main.ts';

serve('create-preference', createPreferenceHandler);
