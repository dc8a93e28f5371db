//! Sample charts for a person to look at: written to the folder named by
//! `CAIRN_CHARTS_SAMPLES` (with an `index.html` showing them inline), nothing when it is unset.
//!
//! `CAIRN_CHARTS_SAMPLES=/tmp/charts cargo test -p cairn-charts --test samples`

mod common;

use cairn_charts::{BarChart, LineChart, Mode, Series, Sparkline, Unit, sparkline};
use jiff::tz::TimeZone;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// 2026-12-07 00:00 UTC.
const START: i64 = 1_796_601_600_000;

/// A smooth, deterministic wave.
fn wave(i: usize, base: f64, amplitude: f64, period: f64) -> f64 {
    base + amplitude * (i as f64 / period).sin() + amplitude * 0.3 * (i as f64 / (period / 3.7)).cos()
}

/// A sample's file name and how to draw it in a mode.
type Sample = (&'static str, Box<dyn Fn(Mode) -> String>);

fn samples() -> Vec<Sample> {
    let cpu = |w: u32, h: u32| {
        move |mode| {
            let points = (0..288).map(|i| {
                let t = START + i as i64 * 5 * MINUTE;
                (t, if (100..112).contains(&i) { None } else { Some(wave(i, 35.0, 20.0, 20.0)) })
            });
            LineChart::new("CPU utilisation, web-1, last 24 hours")
                .size(w, h)
                .y_unit(Unit::Percent)
                .y_include(100.0)
                .series(Series::new("web-1", points))
                .render(mode)
        }
    };
    let network = |w: u32, h: u32| {
        move |mode| {
            let series = |name: &str, scale: f64| {
                Series::new(
                    name,
                    (0..168).map(move |i| (START + i as i64 * HOUR, Some(wave(i, 300e6, 200e6, 12.0) * scale))),
                )
            };
            LineChart::new("Network, last 7 days")
                .size(w, h)
                .area(true)
                .y_unit(Unit::Bytes)
                .time_zone(TimeZone::get("Europe/Berlin").expect("zone"))
                .series(series("In", 1.0))
                .series(series("Out", 0.45))
                .render(mode)
        }
    };
    let prs = |w: u32, h: u32| {
        move |mode| {
            let weeks: Vec<String> = (0..12).map(|k| format!("{} Sep", 1 + k)).collect();
            BarChart::new("Pull requests per week")
                .size(w, h)
                .y_unit(Unit::Count)
                .categories(weeks)
                .series(Series::categorical("Opened", (0..12).map(|k| Some(wave(k, 14.0, 6.0, 2.0).round()))))
                .series(Series::categorical(
                    "Merged",
                    (0..12).map(|k| if k == 5 { None } else { Some(wave(k, 11.0, 5.0, 2.5).round()) }),
                ))
                .render(mode)
        }
    };
    let mut out: Vec<Sample> = vec![
        ("cpu-24h-page", Box::new(cpu(800, 240))),
        ("cpu-24h-phone", Box::new(cpu(350, 200))),
        ("network-7d-area-page", Box::new(network(800, 240))),
        ("network-7d-area-phone", Box::new(network(350, 200))),
        ("prs-per-week-page", Box::new(prs(800, 240))),
        ("prs-per-week-phone", Box::new(prs(350, 200))),
    ];
    out.push((
        "latency-1h",
        Box::new(|mode| {
            LineChart::new("Latency, last hour")
                .y_unit(Unit::Seconds)
                .series(Series::new(
                    "p50",
                    (0..60).map(|m| (START + 13 * HOUR + m * MINUTE, Some(wave(m as usize, 0.12, 0.03, 6.0)))),
                ))
                .series(Series::new(
                    "p95",
                    (0..60).map(|m| (START + 13 * HOUR + m * MINUTE, Some(wave(m as usize, 0.45, 0.15, 6.0)))),
                ))
                .series(Series::new(
                    "p99",
                    (0..60).map(|m| (START + 13 * HOUR + m * MINUTE, Some(wave(m as usize, 0.9, 0.3, 6.0)))),
                ))
                .render(mode)
        }),
    ));
    out.push((
        "requests-90d-many",
        Box::new(|mode| {
            let mut chart =
                LineChart::new("Requests per day, by service, last 90 days").show_title(true).size(800, 300);
            for s in 0..8 {
                chart = chart.series(Series::new(
                    format!("service-{s}"),
                    (0..90).map(move |d| {
                        (START - 90 * DAY + d * DAY, Some(wave(d as usize + s * 7, 40_000.0, 15_000.0, 9.0)))
                    }),
                ));
            }
            chart.render(mode)
        }),
    ));
    out.push((
        "storage-1y",
        Box::new(|mode| {
            LineChart::new("Storage used, last year")
                .y_unit(Unit::Bytes)
                .series(Series::new(
                    "Database",
                    (0..365).map(|d| (START - 365 * DAY + d * DAY, Some(2e9 + d as f64 * 8e6))),
                ))
                .render(mode)
        }),
    ));
    out.push((
        "deploys-by-quarter-line",
        Box::new(|mode| {
            LineChart::new("Deployments per quarter")
                .size(350, 200)
                .categories(["Q1 2026", "Q2 2026", "Q3 2026", "Q4 2026"])
                .series(Series::categorical("Deployments", [Some(120.0), Some(180.0), None, Some(240.0)]))
                .y_unit(Unit::Count)
                .render(mode)
        }),
    ));
    out.push((
        "change-negative-bars",
        Box::new(|mode| {
            BarChart::new("Change in open issues")
                .categories(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
                .series(Series::categorical(
                    "Change",
                    [Some(12.0), Some(-4.0), Some(-18.0), Some(3.0), None, Some(0.0), Some(7.0)],
                ))
                .render(mode)
        }),
    ));
    out.push(("empty", Box::new(|mode| LineChart::new("CPU").series(Series::new("web-1", [])).render(mode))));
    out.push((
        "single-point",
        Box::new(|mode| {
            LineChart::new("CPU").y_unit(Unit::Percent).series(Series::new("web-1", [(START, Some(42.0))])).render(mode)
        }),
    ));
    out.push((
        "sparkline",
        Box::new(|mode| {
            let values: Vec<Option<f64>> =
                (0..40).map(|i| if i == 20 { None } else { Some(wave(i, 10.0, 4.0, 4.0)) }).collect();
            sparkline(&values, 120, 28, mode)
        }),
    ));
    out.push((
        "sparkline-flat",
        Box::new(|mode| Sparkline::new([Some(3.0); 10]).size(80, 20).background(true).render(mode)),
    ));
    out.push(("sparkline-empty", Box::new(|mode| sparkline(&[], 80, 20, mode))));
    out
}

#[test]
fn write_samples() {
    let Some(dir) = std::env::var_os("CAIRN_CHARTS_SAMPLES") else { return };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("create the samples folder");
    let mut page = String::from(
        "<!doctype html><meta charset=utf-8><title>cairn-charts samples</title>\
         <style>:root{color-scheme:light dark}body{font-family:system-ui;background:Canvas;color:CanvasText}\
         figure{margin:1rem 0}</style><h1>Adaptive charts (follow the system theme)</h1>",
    );
    for (name, render) in samples() {
        for (mode, suffix) in [(Mode::Light, "light"), (Mode::Dark, "dark"), (Mode::Adaptive, "adaptive")] {
            let svg = render(mode);
            common::check_chart(&svg);
            std::fs::write(dir.join(format!("{name}-{suffix}.svg")), &svg).expect("write a sample");
            if mode == Mode::Adaptive {
                page.push_str(&format!("<figure><figcaption>{name}</figcaption>{svg}</figure>"));
            }
        }
    }
    std::fs::write(dir.join("index.html"), page).expect("write the index");
}
