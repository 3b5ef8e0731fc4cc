import { paymentStatusHandler } from '../_shared/handlers.ts';
import { serve } from '../_shared/main.ts';

serve('payment-status', paymentStatusHandler);
