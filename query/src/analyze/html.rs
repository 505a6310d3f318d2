//! The HTML incident report of `firewatch analyze --format html`: one self-contained file.
//!
//! Charts are drawn by `plotters` as inline SVG (no script, no network needed to open the
//! file): per service, volume and error ratio over time with the alerts marked; per gauge, its
//! floor with the fitted trend, the limit and the projected exhaustion. Tables list the alerts
//! with their evidence and the top error fingerprints. The report's data (the `--format json`
//! document) is embedded as `<script type="application/json" id="firewatch-data">`, for tools.
//!
//! Everything taken from logs is escaped: text through [`escape`], the JSON block with `<`, `>`
//! and `&` as `\u` escapes (so `</script>` in a message cannot end it); chart labels hold no
//! log text at all.

use std::fmt::Write;

use firewatch_detectors::AlertState;
use firewatch_ingest::record::rfc3339_nanos;
use firewatch_ingest::Nanos;
use plotters::prelude::*;

use super::report::render_json;
use super::summary::{GaugeSummary, ServiceSummary};
use super::Analysis;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
h2{border-bottom:1px solid #ccc;margin-top:2em}figure{margin:.5em 0}\
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left;\
vertical-align:top}pre{margin:0;white-space:pre-wrap;font-size:12px}.n{text-align:right}";

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Renders the whole report.
pub fn render_html(analysis: &Analysis) -> String {
    let mut out = String::with_capacity(64 << 10);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>firewatch analyze report</title><style>{STYLE}</style></head><body>\n\
         <h1>firewatch analyze report</h1>\n"
    );
    let span = analysis.span.map_or(String::from("no records"), |(a, b)| {
        format!(
            "{} to {}",
            rfc3339_nanos::format(a),
            rfc3339_nanos::format(b)
        )
    });
    let _ = writeln!(
        out,
        "<p>{} record(s) from {} input(s), {}.</p>",
        analysis.records,
        analysis.inputs,
        escape(&span)
    );
    for e in &analysis.errors {
        let _ = writeln!(
            out,
            "<p class=\"input-error\">unreadable input: {}: {}</p>",
            escape(&e.path.to_string_lossy()),
            escape(&e.source.to_string())
        );
    }
    alerts_table(analysis, &mut out);
    if let Some(summary) = &analysis.summary {
        out.push_str("<h2>Services</h2>\n");
        for svc in &summary.services {
            let marks: Vec<Nanos> = analysis
                .alerts
                .iter()
                .filter(|a| a.service == svc.service && a.state == AlertState::Firing)
                .map(|a| a.detected_at)
                .collect();
            let _ = writeln!(
                out,
                "<section class=\"service\" data-service=\"{}\"><h3>{}</h3>\
                 <p>{} records, {} errors, {} alert(s)</p>",
                escape(&svc.service),
                escape(&svc.service),
                svc.records,
                svc.errors,
                marks.len()
            );
            figure(&mut out, "volume", volume_chart(svc, &marks));
            figure(&mut out, "error-ratio", ratio_chart(svc, &marks));
            out.push_str("</section>\n");
        }
        if !summary.gauges.is_empty() {
            out.push_str("<h2>Gauges</h2>\n");
        }
        for g in &summary.gauges {
            let exhaustion = g.trend.as_ref().and_then(|t| t.exhaustion_at.as_deref());
            let _ = writeln!(
                out,
                "<section class=\"gauge\" data-service=\"{}\" data-gauge=\"{}\"><h3>{} — {}</h3>\
                 <p>trend {}{}{}</p>",
                escape(&g.service),
                escape(&g.gauge),
                escape(&g.service),
                escape(&g.gauge),
                g.trend
                    .as_ref()
                    .map_or(String::from("unknown"), |t| format!(
                        "{:+.1}/h",
                        t.slope_per_hour
                    )),
                g.limit.map_or(String::new(), |l| format!(", limit {l:.0}")),
                exhaustion.map_or(String::new(), |e| format!(", limit reached ~{}", escape(e))),
            );
            figure(&mut out, "gauge", gauge_chart(g));
            out.push_str("</section>\n");
        }
        if !summary.fingerprints.is_empty() {
            out.push_str(
                "<h2>Top error fingerprints</h2>\n<table class=\"fingerprints\"><tr><th>count</th>\
                 <th>service</th><th>fingerprint</th><th>first</th><th>last</th><th>sample</th></tr>\n",
            );
            for f in &summary.fingerprints {
                let _ = writeln!(
                    out,
                    "<tr><td class=\"n\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                     <td><pre>{}</pre></td></tr>",
                    f.count,
                    escape(&f.service),
                    escape(&f.fingerprint),
                    escape(&f.first_seen),
                    escape(&f.last_seen),
                    escape(&f.sample)
                );
            }
            out.push_str("</table>\n");
        }
    }
    let data = render_json(analysis).to_string();
    let data = data
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026");
    let _ = writeln!(
        out,
        "<script type=\"application/json\" id=\"firewatch-data\">{data}</script>\n</body></html>"
    );
    out
}

fn alerts_table(analysis: &Analysis, out: &mut String) {
    out.push_str("<h2>Alerts</h2>\n");
    let firing: Vec<_> = analysis
        .alerts
        .iter()
        .filter(|a| a.state == AlertState::Firing)
        .collect();
    if firing.is_empty() {
        out.push_str("<p>No alerts.</p>\n");
        return;
    }
    out.push_str(
        "<table class=\"alerts\"><tr><th>severity</th><th>kind</th><th>service</th>\
         <th>title</th><th>detected</th><th>count</th><th>evidence</th></tr>\n",
    );
    for a in firing {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>\
             <td><pre>{}</pre></td></tr>",
            format!("{:?}", a.severity).to_lowercase(),
            a.kind.as_str(),
            escape(&a.service),
            escape(&a.title),
            rfc3339_nanos::format(a.detected_at),
            a.count,
            escape(&a.evidence.join("\n"))
        );
    }
    out.push_str("</table>\n");
}

fn figure(out: &mut String, kind: &str, svg: Result<String, String>) {
    match svg {
        Ok(svg) => {
            let _ = write!(
                out,
                "<figure class=\"chart\" data-kind=\"{kind}\">{svg}</figure>"
            );
        }
        Err(e) => {
            let _ = write!(
                out,
                "<p class=\"chart-error\">chart not drawn: {}</p>",
                escape(&e)
            );
        }
    }
}

/// Seconds since the epoch of an RFC 3339 time (chart x coordinates).
fn secs(t: &str) -> f64 {
    rfc3339_nanos::parse(t).map_or(0.0, |ns| ns as f64 / 1e9)
}

fn label(x: &f64) -> String {
    let t = rfc3339_nanos::format((*x * 1e9) as Nanos);
    t.get(5..16).unwrap_or(&t).replace('T', " ")
}

/// One line chart of `series` (`(x seconds, y)`, color), with vertical marks at `marks`.
fn chart(
    series: &[(Vec<(f64, f64)>, RGBColor)],
    marks: &[Nanos],
    extra_x: Option<f64>,
    y_desc: &str,
) -> Result<String, String> {
    let xs = series.iter().flat_map(|s| s.0.iter().map(|p| p.0));
    let (mut x0, mut x1) = xs.fold((f64::MAX, f64::MIN), |(a, b), x| (a.min(x), b.max(x)));
    if let Some(x) = extra_x {
        x1 = x1.max(x);
    }
    if x0 > x1 {
        (x0, x1) = (0.0, 1.0);
    }
    if x1 - x0 < 1.0 {
        x1 = x0 + 1.0;
    }
    let ys = series.iter().flat_map(|s| s.0.iter().map(|p| p.1));
    let y1 = ys.fold(0.0f64, f64::max).max(1e-9) * 1.1;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 200)).into_drawing_area();
        let e = |e: DrawingAreaErrorKind<_>| e.to_string();
        root.fill(&WHITE).map_err(e)?;
        let mut c = ChartBuilder::on(&root)
            .margin(8)
            .x_label_area_size(24)
            .y_label_area_size(60)
            .build_cartesian_2d(x0..x1, 0f64..y1)
            .map_err(e)?;
        c.configure_mesh()
            .x_labels(6)
            .y_labels(4)
            .x_label_formatter(&label)
            .y_desc(y_desc)
            .draw()
            .map_err(e)?;
        for (points, color) in series {
            c.draw_series(LineSeries::new(
                points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(e)?;
        }
        for m in marks {
            let x = *m as f64 / 1e9;
            c.draw_series(std::iter::once(PathElement::new(
                vec![(x, 0.0), (x, y1)],
                RED.stroke_width(1),
            )))
            .map_err(e)?;
        }
        root.present().map_err(e)?;
    }
    Ok(svg)
}

fn volume_chart(svc: &ServiceSummary, marks: &[Nanos]) -> Result<String, String> {
    let records = svc
        .timeline
        .iter()
        .map(|p| (secs(&p.t), p.records as f64))
        .collect();
    let errors = svc
        .timeline
        .iter()
        .map(|p| (secs(&p.t), p.errors as f64))
        .collect();
    chart(
        &[(records, BLUE), (errors, RED)],
        marks,
        None,
        &format!("records / {}s", svc.bucket_secs),
    )
}

fn ratio_chart(svc: &ServiceSummary, marks: &[Nanos]) -> Result<String, String> {
    let ratio = svc
        .timeline
        .iter()
        .map(|p| {
            let r = if p.records == 0 {
                0.0
            } else {
                100.0 * p.errors as f64 / p.records as f64
            };
            (secs(&p.t), r)
        })
        .collect();
    chart(&[(ratio, RED)], marks, None, "error %")
}

fn gauge_chart(g: &GaugeSummary) -> Result<String, String> {
    let points: Vec<(f64, f64)> = g.points.iter().map(|(t, v)| (secs(t), *v)).collect();
    let mut series = vec![(points, BLUE)];
    let mut extra = None;
    if let Some(t) = &g.trend {
        let (x0, y0, x1, y1) = (secs(&t.from.0), t.from.1, secs(&t.to.0), t.to.1);
        let mut line = vec![(x0, y0), (x1, y1)];
        if let (Some(at), Some(limit)) = (&t.exhaustion_at, g.limit) {
            // Draw the projection, but not so far that the observed part is squashed.
            let end = secs(at).min(x1 + (x1 - x0).max(3600.0));
            let slope = (y1 - y0) / (x1 - x0).max(1.0);
            line.push((end, y1 + slope * (end - x1)));
            extra = Some(end);
            series.push((vec![(x0, limit), (end, limit)], BLACK));
        }
        series.push((line, GREEN));
    }
    chart(&series, &[], extra, "floor")
}
