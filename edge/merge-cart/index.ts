import { serveWithoutMercadoPago } from '../_shared/main.ts';
import { mergeCartHandler } from '../_shared/merge-cart.ts';

serveWithoutMercadoPago('merge-cart', mergeCartHandler);
