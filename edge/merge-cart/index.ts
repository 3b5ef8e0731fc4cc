import { serveWithoutMercadoPago } from '../_shared/main.ts';
import { mergeCartHandler } from './handler.ts';

serveWithoutMercadoPago('merge-cart', mergeCartHandler);
