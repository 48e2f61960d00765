//! A hand-written SVG line plot of the soak samples: one panel per series, the ends of the idle
//! phases marked.

use std::fmt::Write;

use crate::Sample;

/// A series' name and how to read it from a sample.
type Series = (&'static str, fn(&Sample) -> f64);

pub fn svg(samples: &[Sample], marks: &[f64]) -> String {
    let series: [Series; 5] = [
        ("live actors", |s| s.actors),
        ("file descriptors", |s| s.fds),
        ("channels", |s| s.channels),
        ("sessions", |s| s.sessions),
        ("RSS (MB)", |s| s.rss_mb),
    ];
    let (w, ph, pad) = (900.0, 140.0, 50.0);
    let h = series.len() as f64 * (ph + 30.0) + 20.0;
    let tmax = samples.iter().map(|s| s.t).fold(1.0, f64::max);
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for (i, (name, f)) in series.iter().enumerate() {
        let top = 20.0 + i as f64 * (ph + 30.0);
        let vals: Vec<f64> = samples.iter().map(f).filter(|v| v.is_finite()).collect();
        let vmax = vals.iter().copied().fold(f64::MIN, f64::max).max(1.0);
        let vmin = vals.iter().copied().fold(f64::MAX, f64::min).min(vmax);
        let span = (vmax - vmin).max(1e-9);
        let x = |t: f64| pad + (t / tmax) * (w - 2.0 * pad);
        let y = |v: f64| top + ph - ((v - vmin) / span) * ph;
        let _ = writeln!(
            out,
            "<text x=\"{pad}\" y=\"{}\">{name}: {vmin:.0} .. {vmax:.0}</text>",
            top - 4.0
        );
        let _ = writeln!(
            out,
            "<rect x=\"{pad}\" y=\"{top}\" width=\"{}\" height=\"{ph}\" fill=\"none\" stroke=\"#ccc\"/>",
            w - 2.0 * pad
        );
        for m in marks {
            let _ = writeln!(
                out,
                "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{top}\" y2=\"{1}\" stroke=\"#9c9\" stroke-dasharray=\"3,3\"/>",
                x(*m),
                top + ph
            );
        }
        let pts: Vec<String> = samples
            .iter()
            .filter(|s| f(s).is_finite())
            .map(|s| format!("{:.1},{:.1}", x(s.t), y(f(s))))
            .collect();
        let _ = writeln!(
            out,
            "<polyline fill=\"none\" stroke=\"#236\" stroke-width=\"1.2\" points=\"{}\"/>",
            pts.join(" ")
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{pad}\" y=\"{}\">time: 0 .. {tmax:.0} s; dashed: end of each idle phase</text>\n</svg>",
        h - 4.0
    );
    out
}
