//! The HTML report: one self-contained page (inline SVG and CSS, no scripts, no CDN) with plots
//! of latency, users and throughput over time, and tables of counters, timers and errors.

use std::fmt::Write as _;

use serde_json::Value;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One plotted line: (name, colour, points).
pub type Line<'a> = (&'a str, &'a str, Vec<(f64, f64)>);

/// A line chart of `series` (name, colour, points) over time, as an inline SVG.
pub fn line_chart(title: &str, unit: &str, series: &[Line<'_>]) -> String {
    let (w, h, l, b) = (640.0, 220.0, 60.0, 30.0);
    let pts = series.iter().flat_map(|s| s.2.iter());
    let xmax = pts.clone().map(|p| p.0).fold(0.0_f64, f64::max).max(1.0);
    let ymax = pts.map(|p| p.1).fold(0.0_f64, f64::max).max(1e-9) * 1.1;
    let mut svg = format!(
        "<figure><figcaption>{}</figcaption><svg viewBox=\"0 0 {w} {h}\" width=\"{w}\" \
         height=\"{h}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\">",
        esc(title)
    );
    let (pw, ph) = (w - l - 10.0, h - b - 10.0);
    let _ = write!(
        svg,
        "<rect x=\"{l}\" y=\"10\" width=\"{pw}\" height=\"{ph}\" fill=\"#fafafa\" stroke=\"#ccc\"/>"
    );
    for i in 0..=4 {
        let v = ymax * f64::from(i) / 4.0;
        let y = 10.0 + ph - ph * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            "<line x1=\"{l}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#eee\"/>\
             <text x=\"{}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"end\">{v:.1}</text>",
            l + pw,
            l - 4.0,
            y + 3.0
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">time (s), max {xmax:.1}</text>\
         <text x=\"12\" y=\"{}\" font-size=\"10\" transform=\"rotate(-90 12 {})\" \
         text-anchor=\"middle\">{}</text>",
        l + pw / 2.0,
        h - 8.0,
        10.0 + ph / 2.0,
        10.0 + ph / 2.0,
        esc(unit)
    );
    for (i, (name, colour, points)) in series.iter().enumerate() {
        let path: Vec<String> = points
            .iter()
            .map(|(x, y)| {
                format!(
                    "{:.1},{:.1}",
                    l + pw * x / xmax,
                    10.0 + ph - ph * (y / ymax)
                )
            })
            .collect();
        let _ = write!(
            svg,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\" points=\"{}\"/>\
             <text x=\"{}\" y=\"24\" font-size=\"11\" fill=\"{colour}\">{}</text>",
            path.join(" "),
            l + 8.0 + 110.0 * i as f64,
            esc(name)
        );
    }
    svg.push_str("</svg></figure>");
    svg
}

fn series(doc: &Value, key: &str) -> Vec<(f64, f64)> {
    doc["series"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["t"].as_f64().unwrap_or(0.0),
                        s[key].as_f64().unwrap_or(0.0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Every timer and event name in the time series, in order of first appearance.
fn latency_names(doc: &Value) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for s in doc["series"].as_array().into_iter().flatten() {
        for k in s["latency"].as_object().into_iter().flat_map(|m| m.keys()) {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    names
}

/// `(t, latency.<name>.<key>)` of every sample that has that name.
fn latency_series(doc: &Value, name: &str, key: &str) -> Vec<(f64, f64)> {
    doc["series"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| Some((s["t"].as_f64()?, s["latency"][name][key].as_f64()?)))
                .collect()
        })
        .unwrap_or_default()
}

fn timer_rows(out: &mut String, name: &str, t: &Value) {
    let p = |k: &str| t["percentile"][k].as_f64().unwrap_or(0.0);
    let _ = write!(
        out,
        "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td>\
         <td>{:.3}</td><td>{:.3}</td></tr>",
        esc(name),
        t["n"],
        t["arithmetic_mean"].as_f64().unwrap_or(0.0),
        p("50"),
        p("90"),
        p("99"),
        p("999"),
        t["max"].as_f64().unwrap_or(0.0)
    );
}

/// Renders the report for a result document.
pub fn render(doc: &Value, title: &str) -> String {
    let mut out = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>flood: {t}</title><style>\
         body{{font-family:sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:1em 0}}\
         td,th{{border:1px solid #ddd;padding:3px 8px;text-align:right}}th{{background:#f3f3f3}}\
         td:first-child{{text-align:left}}figure{{margin:1em 0}}figcaption{{font-weight:bold}}\
         .pass{{color:#080}}.fail{{color:#b00}}</style></head><body><h1>flood report: {t}</h1>",
        t = esc(title)
    );
    let passed = doc["run"]["passed"].as_bool().unwrap_or(false);
    let _ = write!(
        out,
        "<p>Verdict: <b class=\"{c}\">{v}</b>, duration {d} ms.</p>",
        c = if passed { "pass" } else { "fail" },
        v = if passed { "PASSED" } else { "FAILED" },
        d = doc["run"]["duration_ms"]
    );
    // One chart per timer and per event round trip, each on its own scale: a think-time timer
    // of seconds does not flatten (or pass for) a latency of milliseconds.
    for name in latency_names(doc) {
        out.push_str(&line_chart(
            &format!("Latency over time: {name} (per second)"),
            "ms",
            &[
                ("p50", "#1f77b4", latency_series(doc, &name, "p50")),
                ("p99", "#d62728", latency_series(doc, &name, "p99")),
            ],
        ));
    }
    let cores = doc["run"]["cpu"]["machine"]["cores"]
        .as_f64()
        .unwrap_or(1.0);
    let busy: Vec<(f64, f64)> = doc["series"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| Some((s["t"].as_f64()?, (1.0 - s["idle"].as_f64()?) * cores)))
                .collect()
        })
        .unwrap_or_default();
    out.push_str(&line_chart(
        &format!("CPU (cores; the machine has {cores})"),
        "cores",
        &[
            ("flood", "#8c564b", series(doc, "flood_cores")),
            ("whole machine busy", "#7f7f7f", busy),
        ],
    ));
    if let Some(w) = doc["run"]["cpu"]["machine"]
        .get("saturated")
        .and_then(Value::as_bool)
        .filter(|s| *s)
        .map(|_| {
            format!(
                "Warning: the machine was saturated (idle below 10% of all cores in {} of {} \
                 seconds); latencies and rates measure the machine as much as the server.",
                doc["run"]["cpu"]["machine"]["saturated_intervals"],
                doc["run"]["cpu"]["machine"]["intervals"]
            )
        })
    {
        let _ = write!(out, "<p class=\"fail\">{}</p>", esc(&w));
    }
    out.push_str(&line_chart(
        "Users over time",
        "users",
        &[
            ("connected_users", "#2ca02c", series(doc, "connected")),
            (
                "socket.io connected",
                "#9467bd",
                series(doc, "sio_connected"),
            ),
        ],
    ));
    out.push_str(&line_chart(
        "Throughput (Socket.IO packets per second)",
        "packets/s",
        &[
            ("received", "#ff7f0e", series(doc, "in_rate")),
            ("sent", "#17becf", series(doc, "out_rate")),
        ],
    ));
    out.push_str(
        "<h2>Latencies (ms)</h2><table><tr><th>timer</th><th>n</th><th>mean</th><th>p50</th>\
         <th>p90</th><th>p99</th><th>p99.9</th><th>max</th></tr>",
    );
    if let Some(c) = doc["connection"].as_object() {
        for (k, t) in c {
            timer_rows(&mut out, &format!("[{k}]"), t);
        }
    }
    if let Some(ts) = doc["timers"].as_object() {
        for (k, t) in ts {
            timer_rows(&mut out, k, t);
        }
    }
    out.push_str(
        "</table><h2>Event round trips (ms): emit to ack, or to the reply of the same name</h2>\
         <table><tr><th>event</th><th>n</th><th>mean</th><th>p50</th><th>p90</th><th>p99</th>\
         <th>p99.9</th><th>max</th><th>emitted</th></tr>",
    );
    if let Some(es) = doc["events"].as_object() {
        for (k, t) in es {
            timer_rows(&mut out, k, t);
            if let Some(i) = out.rfind("</tr>") {
                out.insert_str(i, &format!("<td>{}</td>", t["emitted"]));
            }
        }
    }
    out.push_str("</table><h2>Counters</h2><table><tr><th>counter</th><th>value</th></tr>");
    if let Some(cs) = doc["counters"].as_object() {
        for (k, v) in cs {
            let _ = write!(out, "<tr><td>{}</td><td>{v}</td></tr>", esc(k));
        }
    }
    out.push_str("</table><h2>Errors by kind</h2><table><tr><th>kind</th><th>count</th></tr>");
    if let Some(es) = doc["errors"].as_object() {
        for (k, v) in es {
            let _ = write!(out, "<tr><td>{}</td><td>{v}</td></tr>", esc(k));
        }
    }
    out.push_str("</table><h2>Goals</h2><ul>");
    if let Some(ps) = doc["run"]["phases"].as_array() {
        for p in ps {
            let ok = p["passed"].as_bool().unwrap_or(false);
            let _ = write!(
                out,
                "<li>{}: <span class=\"{}\">{}</span> {}</li>",
                esc(p["phase"].as_str().unwrap_or("")),
                if ok { "pass" } else { "fail" },
                if ok { "passed" } else { "failed" },
                esc(&p["errors"].to_string())
            );
        }
    }
    out.push_str("</ul></body></html>\n");
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn report_is_self_contained_html_with_a_latency_chart_per_name() {
        let doc = json!({
            "counters": {"all_users": 3}, "timers": {"rtt": {"n": 2, "percentile": {"50": 1.0}}},
            "events": {"echo": {"n": 4, "emitted": 5, "max": 2.5, "percentile": {"99.9": 2.5}}},
            "errors": {"connect": 1},
            "run": {"passed": true, "duration_ms": 10, "phases": [],
                    "cpu": {"machine": {"cores": 2, "saturated": true, "intervals": 2,
                                        "saturated_intervals": 2}}},
            "series": [{"t": 1.0, "connected": 3, "sio_connected": 3, "in_rate": 5.0,
                        "out_rate": 4.0, "flood_cores": 0.5, "idle": 0.05,
                        "latency": {"timers.think": {"n": 1, "p50": 5000.0, "p99": 5000.0}}},
                       {"t": 2.0, "connected": 3, "sio_connected": 3, "in_rate": 5.0,
                        "out_rate": 4.0, "flood_cores": 0.5, "idle": 0.05,
                        "latency": {"events.echo": {"n": 9, "p50": 1.0, "p99": 2.0}}}]
        });
        let html = render(&doc, "x<y>");
        // think, echo, users, throughput, CPU.
        assert_eq!(html.matches("<svg").count(), 5);
        assert!(html.contains("Latency over time: timers.think"));
        assert!(html.contains("Latency over time: events.echo"));
        assert!(html.contains("the machine was saturated"));
        assert!(html.contains("x&lt;y&gt;"));
        assert!(!html.contains("<script") && !html.contains("http://cdn"));
        assert!(html.contains("<td>rtt</td>"));
        assert!(html.contains("<td>echo</td><td>4</td>"));
        assert!(html.contains("<td>2.500</td><td>5</td></tr>"), "{html}");
    }
}
