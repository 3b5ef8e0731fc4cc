import { reconcileHandler } from '../_shared/handlers.ts';
import { serve } from '../_shared/main.ts';

serve('reconcile', reconcileHandler);
