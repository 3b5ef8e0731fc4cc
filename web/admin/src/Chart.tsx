/** chart.js in React: one canvas, created once, its data replaced on every render (no animation, so live updates do not flicker). */
import {
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartConfiguration,
  DoughnutController,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from 'chart.js';
import { useEffect, useRef } from 'react';

Chart.register(
  BarController,
  BarElement,
  LineController,
  LineElement,
  PointElement,
  CategoryScale,
  LinearScale,
  DoughnutController,
  ArcElement,
  Legend,
  Tooltip,
);
Chart.defaults.animation = false;
Chart.defaults.font.family = "system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif";

export function ChartCanvas({ config, label, testId }: { config: ChartConfiguration; label: string; testId: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  const chart = useRef<Chart | null>(null);
  useEffect(() => {
    if (!canvas.current) return;
    if (!chart.current) chart.current = new Chart(canvas.current, config);
    else {
      chart.current.data = config.data;
      chart.current.update();
    }
  }, [config]);
  useEffect(() => () => {
    chart.current?.destroy();
    chart.current = null;
  }, []);
  return (
    <div className='chart'>
      <canvas ref={canvas} role='img' aria-label={label} data-testid={testId} />
    </div>
  );
}
