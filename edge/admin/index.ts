import { serve } from '../_shared/main.ts';
import { adminDashboardHandler } from './handler.ts';

serve('admin', adminDashboardHandler);
