// A uPlot line chart that follows its container's width.

import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';

/**
 * series: [{ label, stroke }]; data: [xs, ...ys] (x in seconds, or plain numbers with time=false);
 * xLabel names x in the legend.
 * Drawn from the second point on.
 */
export function LineChart(props) {
  if ((props.data[0]?.length ?? 0) < 2)
    return html`<div class="chart empty" style=${`height:${(props.height ?? 180) + 16}px`}></div>`;
  return html`<${Plot} ...${props} />`;
}

function Plot({ series, data, height = 180, time = true, xLabel }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const width = () => Math.max(240, box.current.clientWidth);
    plot.current = new uPlot(
      {
        width: width(),
        height,
        scales: { x: { time } },
        series: [
          xLabel ? { label: xLabel } : {},
          ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2 })),
        ],
        axes: [{}, { size: 60 }],
        legend: { show: series.length > 1 },
      },
      data,
      box.current,
    );
    const resize = () => plot.current.setSize({ width: width(), height });
    addEventListener('resize', resize);
    return () => {
      removeEventListener('resize', resize);
      plot.current.destroy();
    };
  }, [series.map((s) => s.label).join(), xLabel]);
  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);
  return html`<div class="chart" ref=${box}></div>`;
}
