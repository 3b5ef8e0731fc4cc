import { createPreferenceHandler } from './handler.ts';
import { serve } from '../_shared/main.ts';

serve('create-preference', createPreferenceHandler);
