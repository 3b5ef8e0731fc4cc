import { webhookHandler } from './handler.ts';
import { serve } from '../_shared/main.ts';

serve('mercadopago-webhook', webhookHandler);
