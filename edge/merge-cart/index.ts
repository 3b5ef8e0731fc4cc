import { mergeCartHandler } from '../_shared/merge-cart.ts';
import { serve } from '../_shared/main.ts';

serve('merge-cart', mergeCartHandler);
