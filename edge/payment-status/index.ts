import { paymentStatusHandler } from './handler.ts';
import { serve } from '../_shared/main.ts';

serve('payment-status', paymentStatusHandler);
