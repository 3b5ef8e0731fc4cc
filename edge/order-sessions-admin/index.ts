import { adminHandler } from '../_shared/handlers.ts';
import { serveWithoutMercadoPago } from '../_shared/main.ts';

serveWithoutMercadoPago('order-sessions-admin', adminHandler);
