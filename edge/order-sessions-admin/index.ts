import { adminHandler } from './handler.ts';
import { serveWithoutMercadoPago } from '../_shared/main.ts';

serveWithoutMercadoPago('order-sessions-admin', adminHandler);
