import { adminHandler } from '../_shared/handlers.ts';
import { serve } from '../_shared/main.ts';

serve('order-sessions-admin', adminHandler);
