import { webhookHandler } from '../_shared/handlers.ts';
import { serve } from '../_shared/main.ts';

serve('mercadopago-webhook', webhookHandler);
