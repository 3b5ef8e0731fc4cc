import { reconcileHandler } from './handler.ts';
import { serve } from '../_shared/main.ts';

serve('reconcile', reconcileHandler);
