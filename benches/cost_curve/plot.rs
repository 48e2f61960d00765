//! A hand-written SVG of the cost curve: one panel per figure, sessions on the x axis, one line
//! per server (Hive and Node side by side), the open-files limit marked.

use std::fmt::Write;

use crate::Point;

type Figure = (&'static str, fn(&Point) -> f64);

const COLOURS: [(&str, &str); 2] = [("hive", "#1f5fa8"), ("node", "#c0392b")];

pub fn svg(points: &[Point], max: usize) -> String {
    let figures: [Figure; 6] = [
        ("server RSS per session (KB)", |p| {
            p.rss_bytes_per_session / 1000.0
        }),
        ("server RSS, all sessions open (MB)", |p| {
            p.rss_bytes as f64 / 1e6
        }),
        ("connect all (s)", |p| p.connect_all_ms / 1000.0),
        ("idle (heartbeats): server % of a core", |p| {
            p.idle_cores * 100.0
        }),
        ("echo: server µs per round trip", |p| p.echo_us_per_op),
        ("fan-out: server µs per delivery", |p| {
            p.fanout_us_per_delivery
        }),
    ];
    let (pw, ph, left, gap) = (420.0, 170.0, 60.0, 70.0);
    let cols = 2;
    let rows = figures.len().div_ceil(cols);
    let w = cols as f64 * (pw + left + 30.0);
    let h = rows as f64 * (ph + gap) + 40.0;
    let xmax = points
        .iter()
        .map(|p| p.sessions)
        .max()
        .unwrap_or(1)
        .max(max) as f64;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" \
         fill=\"white\"/>\n<text x=\"10\" y=\"18\" font-size=\"13\">Cost curve: Hive (blue) and \
         Node socket.io@0.9.19 (red), Socket.IO 0.9 over WebSocket; dashed: the open-files \
         limit's largest count ({max})</text>\n"
    );
    for (i, (title, f)) in figures.iter().enumerate() {
        let x0 = (i % cols) as f64 * (pw + left + 30.0) + left;
        let y0 = (i / cols) as f64 * (ph + gap) + 50.0;
        let vals: Vec<f64> = points.iter().map(f).filter(|v| v.is_finite()).collect();
        let ymax = vals.iter().copied().fold(0.0, f64::max).max(1e-9) * 1.1;
        let x = |n: f64| x0 + n / xmax * pw;
        let y = |v: f64| y0 + ph - v / ymax * ph;
        let _ = writeln!(
            out,
            "<text x=\"{x0}\" y=\"{}\" font-weight=\"bold\">{title}</text>\
             <rect x=\"{x0}\" y=\"{y0}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#ccc\"/>",
            y0 - 6.0
        );
        for k in 0..=4 {
            let v = ymax * f64::from(k) / 4.0;
            let _ = writeln!(
                out,
                "<line x1=\"{x0}\" x2=\"{0}\" y1=\"{1:.1}\" y2=\"{1:.1}\" stroke=\"#eee\"/>\
                 <text x=\"{2}\" y=\"{3:.1}\" text-anchor=\"end\">{4}</text>",
                x0 + pw,
                y(v),
                x0 - 4.0,
                y(v) + 3.0,
                tick(v)
            );
        }
        for n in [0.0, xmax / 4.0, xmax / 2.0, xmax * 0.75, xmax] {
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{:.0}k</text>",
                x(n),
                y0 + ph + 14.0,
                n / 1000.0
            );
        }
        let _ = writeln!(
            out,
            "<line x1=\"{0:.1}\" x2=\"{0:.1}\" y1=\"{y0}\" y2=\"{1}\" stroke=\"#999\" \
             stroke-dasharray=\"4,3\"/><text x=\"{2}\" y=\"{3}\" text-anchor=\"middle\">sessions</text>",
            x(max as f64),
            y0 + ph,
            x0 + pw / 2.0,
            y0 + ph + 28.0
        );
        for (server, colour) in COLOURS {
            let mut pts: Vec<(f64, f64)> = points
                .iter()
                .filter(|p| p.server == server)
                .map(|p| (p.sessions as f64, f(p)))
                .filter(|p| p.1.is_finite())
                .collect();
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            let line: Vec<String> = pts
                .iter()
                .map(|(n, v)| format!("{:.1},{:.1}", x(*n), y(*v)))
                .collect();
            let _ = writeln!(
                out,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.8\" points=\"{}\"/>",
                line.join(" ")
            );
            for (n, v) in &pts {
                let _ = writeln!(
                    out,
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"><title>{server} \
                     {n}: {v:.3}</title></circle>",
                    x(*n),
                    y(*v)
                );
            }
        }
    }
    out.push_str("</svg>\n");
    out
}

fn tick(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}
