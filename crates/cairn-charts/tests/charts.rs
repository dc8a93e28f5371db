//! The charts as a page or a report sees them: documents, colours, axes, gaps, text.

mod common;

use cairn_charts::axis::{nice_ticks, time_ticks, value_ticks};
use cairn_charts::{BarChart, Color, LineChart, Mode, Series, Sparkline, Theme, Unit, format_value, sparkline};
use common::{Element, check_chart, parse};
use jiff::tz::TimeZone;

const MODES: [Mode; 3] = [Mode::Light, Mode::Dark, Mode::Adaptive];
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// 2026-12-07 00:00 UTC, a Monday.
const MONDAY: i64 = 1_796_601_600_000;

fn timed(name: &str, values: &[Option<f64>]) -> Series {
    Series::new(name, values.iter().enumerate().map(|(i, v)| (MONDAY + i as i64 * HOUR, *v)))
}

/// Data sets that have broken charts elsewhere.
fn datasets() -> Vec<(&'static str, Vec<Vec<Option<f64>>>)> {
    let wave: Vec<Option<f64>> = (0..48).map(|i| Some(50.0 + 40.0 * (i as f64 / 5.0).sin())).collect();
    vec![
        ("no series", vec![]),
        ("empty series", vec![vec![]]),
        ("all missing", vec![vec![None, None, None]]),
        ("single", vec![vec![Some(42.0)]]),
        ("gap", vec![vec![Some(1.0), Some(2.0), None, Some(3.0), Some(4.0)]]),
        ("lone point", vec![vec![Some(1.0), None, Some(2.0), None, Some(3.0)]]),
        ("nan and inf", vec![vec![Some(f64::NAN), Some(1.0), Some(f64::INFINITY), Some(f64::NEG_INFINITY), Some(2.0)]]),
        ("only nan", vec![vec![Some(f64::NAN), Some(f64::INFINITY)]]),
        ("huge", vec![vec![Some(1e15), Some(3e300), Some(f64::MAX), Some(-1e299), Some(2e18)]]),
        ("tiny", vec![vec![Some(1e-12), Some(3e-12), Some(f64::MIN_POSITIVE)]]),
        ("negative", vec![vec![Some(-5.0), Some(-20.0), Some(-1.5)]]),
        ("mixed sign", vec![vec![Some(-5.0), Some(20.0), Some(-1.5)], vec![Some(3.0), None, Some(-7.0)]]),
        ("all equal", vec![vec![Some(7.0); 10]]),
        ("all zero", vec![vec![Some(0.0); 10]]),
        ("several", vec![wave.clone(), wave.iter().map(|v| v.map(|v| v / 2.0)).collect(), vec![Some(10.0); 48]]),
        ("many series", (0..11).map(|i| wave.iter().map(|v| v.map(|v| v + i as f64 * 5.0)).collect()).collect()),
    ]
}

/// Every kind of chart of a data set, in every mode and a few sizes.
fn every_chart(data: &[Vec<Option<f64>>]) -> Vec<String> {
    let mut out = Vec::new();
    for mode in MODES {
        for (w, h) in [(800, 240), (350, 200), (10, 10), (0, 0)] {
            let series = |i: usize, v: &Vec<Option<f64>>| timed(&format!("Series {i}"), v);
            let mut line = LineChart::new("Line").size(w, h);
            let mut area = LineChart::new("Area").size(w, h).area(true).y_unit(Unit::Bytes);
            let mut cats = LineChart::new("Categories").size(w, h).categories(["a", "b", "c"]);
            let mut bar = BarChart::new("Bars").size(w, h).categories(["Mon", "Tue", "Wed", "Thu"]).y_unit(Unit::Count);
            let mut stack = BarChart::new("Stacked").size(w, h).stacked(true);
            for (i, v) in data.iter().enumerate() {
                line = line.series(series(i, v));
                area = area.series(series(i, v));
                cats = cats.series(Series::categorical(format!("S{i}"), v.clone()));
                bar = bar.series(Series::categorical(format!("S{i}"), v.clone()));
                stack = stack.series(Series::categorical(format!("S{i}"), v.clone()));
            }
            out.extend([line.render(mode), area.render(mode), cats.render(mode), bar.render(mode), stack.render(mode)]);
            for v in data {
                out.push(sparkline(v, w, h, mode));
                out.push(Sparkline::new(v.clone()).size(w, h).background(true).area(false).render(mode));
            }
        }
    }
    out
}

#[test]
fn every_kind_in_every_mode_is_a_well_formed_standalone_svg() {
    for (name, data) in datasets() {
        for svg in every_chart(&data) {
            let root = std::panic::catch_unwind(|| check_chart(&svg)).unwrap_or_else(|_| panic!("data set {name}"));
            assert!(!root.find("desc")[0].text().is_empty(), "{name}: empty description");
        }
    }
}

#[test]
fn the_checker_refuses_broken_documents() {
    for broken in [
        "<svg><g></svg>",
        "<svg a=\"1\" a=\"2\"/>",
        "<svg>&</svg>",
        "<svg>&nbsp;</svg>",
        "<svg><text>a < b</text></svg>",
        "<svg x=\"<\"/>",
        "<svg/><svg/>",
        "<svg>\u{1}</svg>",
        "<svg a=b/>",
    ] {
        assert!(parse(broken).is_err(), "{broken}");
    }
    assert!(parse("<svg a='1' b=\"&amp;&#60;\"><!-- x --><g/>text</svg>").is_ok());
}

#[test]
fn hostile_names_are_escaped() {
    let hostile = r#"<script>alert("x")</script> & 'quotes' ]]> <!-- -->"#;
    let bad = "bell\u{7}null\u{0}";
    for mode in MODES {
        let charts = [
            LineChart::new(hostile)
                .show_title(true)
                .description(hostile)
                .series(timed(hostile, &[Some(1.0), Some(2.0)]))
                .series(timed(bad, &[Some(2.0), Some(1.0)]))
                .y_unit(Unit::Suffix(hostile.to_string()))
                .render(mode),
            BarChart::new(hostile)
                .categories([hostile, bad])
                .series(Series::categorical(hostile, [Some(1.0), Some(2.0)]))
                .series(Series::categorical("b", [Some(1.0), Some(2.0)]))
                .render(mode),
            LineChart::new(hostile).empty_message(hostile).show_title(true).render(mode),
            Sparkline::new([Some(1.0)]).title(hostile).render(mode),
        ];
        for svg in charts {
            let root = check_chart(&svg);
            assert!(!svg.contains("<script"), "{svg}");
            assert!(root.find("script").is_empty());
            assert_eq!(root.find("title")[0].text(), hostile);
            let texts: Vec<String> = root.find("text").iter().map(|t| t.text()).collect();
            assert!(!texts.iter().any(|t| t.contains('\u{0}') || t.contains('\u{7}')));
        }
    }
    // The legend shows the name as it is, not its escaped form.
    let svg = LineChart::new("t")
        .size(1600, 240)
        .series(timed("A & <B>", &[Some(1.0)]))
        .series(timed("\"C\"", &[Some(2.0)]))
        .render(Mode::Light);
    let texts: Vec<String> = check_chart(&svg).find("text").iter().map(|t| t.text()).collect();
    assert!(texts.contains(&"A & <B>".to_string()) && texts.contains(&"\"C\"".to_string()), "{texts:?}");
}

/// A tiny deterministic generator for property checks.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[test]
fn nice_ticks_cover_the_data_in_round_steps_within_the_count() {
    let mut rng = Lcg(7);
    for _ in 0..5_000 {
        let scale = 10f64.powi((rng.next() * 24.0) as i32 - 12);
        let a = (rng.next() - 0.3) * scale;
        let b = a + rng.next() * scale * if rng.next() < 0.1 { 0.0 } else { 1.0 };
        let max = 2 + (rng.next() * 9.0) as usize;
        let ticks = nice_ticks(a, b, max);
        let v = &ticks.values;
        let allowed = if a < 0.0 && b > 0.0 { max.max(3) } else { max };
        assert!(v.len() >= 2 && v.len() <= allowed, "{a}..{b} in {max}: {v:?}");
        assert!(v[0] <= a && *v.last().unwrap() >= b, "{a}..{b}: {v:?}");
        let mantissa = ticks.step / 10f64.powf(ticks.step.log10().floor());
        assert!([1.0, 2.0, 5.0, 10.0].iter().any(|m| (mantissa - m).abs() < 1e-6), "step {}", ticks.step);
        for pair in v.windows(2) {
            assert!(((pair[1] - pair[0]) / ticks.step - 1.0).abs() < 1e-6, "uneven {v:?}");
        }
        for t in v {
            assert!((t / ticks.step - (t / ticks.step).round()).abs() < 1e-6, "{t} not a multiple of {}", ticks.step);
        }
    }
}

#[test]
fn value_axis_labels_read_in_the_unit() {
    let labels = |lo, hi, max, unit: Unit| -> Vec<String> {
        value_ticks(lo, hi, max, &unit).into_iter().map(|t| t.label).collect()
    };
    assert_eq!(labels(0.0, 100.0, 6, Unit::Percent), ["0%", "20%", "40%", "60%", "80%", "100%"]);
    assert_eq!(labels(0.0, 4_500.0, 6, Unit::Plain), ["0", "1,000", "2,000", "3,000", "4,000", "5,000"]);
    assert_eq!(labels(0.0, 45_000.0, 6, Unit::Plain), ["0", "10k", "20k", "30k", "40k", "50k"]);
    assert_eq!(labels(0.0, 25_000_000.0, 4, Unit::Count), ["0", "10M", "20M", "30M"]);
    assert_eq!(labels(0.0, 1.5, 4, Unit::Plain), ["0", "0.5", "1", "1.5"]);
    assert_eq!(labels(0.0, 700.0 * 1024.0 * 1024.0, 5, Unit::Bytes), ["0", "200 MB", "400 MB", "600 MB", "800 MB"]);
    assert_eq!(labels(0.0, 0.45, 6, Unit::Seconds), ["0", "100 ms", "200 ms", "300 ms", "400 ms", "500 ms"]);
    assert_eq!(labels(0.0, 600.0, 6, Unit::Seconds), ["0", "2 min", "4 min", "6 min", "8 min", "10 min"]);
    assert_eq!(labels(-10.0, 10.0, 5, Unit::Plain), ["\u{2212}10", "\u{2212}5", "0", "5", "10"]);
    // The value stays in the data's units whatever the label's multiple.
    assert_eq!(value_ticks(0.0, 45_000.0, 6, &Unit::Plain)[1].value, 10_000.0);
}

#[test]
fn values_in_full() {
    assert_eq!(format_value(1_234_567.0, &Unit::Count), "1,234,567");
    assert_eq!(format_value(99.5, &Unit::Percent), "99.5%");
    assert_eq!(format_value(3.0 * 1024.0 * 1024.0 * 1024.0, &Unit::Bytes), "3 GB");
    assert_eq!(format_value(0.042, &Unit::Seconds), "42 ms");
}

fn labels(start: i64, span: i64, max: usize, tz: &TimeZone) -> Vec<String> {
    let ticks = time_ticks(start, start + span, tz, max);
    assert!(ticks.len() <= max && ticks.len() >= 2, "{ticks:?}");
    for t in &ticks {
        assert!(t.at_ms >= start && t.at_ms <= start + span);
    }
    assert!(ticks.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
    ticks.into_iter().map(|t| t.label).collect()
}

fn is_clock(s: &str) -> bool {
    s.len() == 5 && s.as_bytes()[2] == b':' && s.bytes().filter(u8::is_ascii_digit).count() == 4
}
fn is_weekday_day(s: &str) -> bool {
    s.split_once(' ').is_some_and(|(w, d)| {
        ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].contains(&w)
            && d.parse::<u8>().is_ok_and(|d| (1..=31).contains(&d))
    })
}
fn is_day_month(s: &str) -> bool {
    s.split_once(' ')
        .is_some_and(|(d, m)| d.parse::<u8>().is_ok() && m.len() == 3 && m.chars().all(char::is_alphabetic))
}

#[test]
fn time_ticks_choose_steps_and_labels_for_the_span() {
    let utc = TimeZone::UTC;
    let start = MONDAY + 13 * HOUR + 7 * 60_000; // Mon 7 Dec 2026 13:07

    let hour = labels(start, HOUR, 11, &utc);
    assert!(hour.iter().all(|l| is_clock(l)), "{hour:?}");
    assert_eq!(hour[0], "13:10");

    let day = labels(start, DAY, 11, &utc);
    assert_eq!(day.iter().filter(|l| is_clock(l)).count(), day.len() - 1, "{day:?}");
    assert!(day.contains(&"Tue 8".to_string()), "midnight reads as the day: {day:?}");
    assert!(day.contains(&"15:00".to_string()), "3-hour steps on the clock: {day:?}");

    let week = labels(start, 7 * DAY, 11, &utc);
    assert!(week.iter().all(|l| is_weekday_day(l)), "{week:?}");
    assert_eq!(week[0], "Tue 8");

    let quarter = labels(start, 90 * DAY, 11, &utc);
    assert!(quarter.iter().all(|l| is_day_month(l)), "{quarter:?}");
    assert_eq!(quarter[0], "21 Dec", "every other Monday: {quarter:?}");

    let year = labels(start, 365 * DAY, 11, &utc);
    assert_eq!(year[0], "Jan 2027", "{year:?}");
    assert!(year[1..].iter().all(|l| l.len() == 3), "{year:?}");

    // Narrow charts take coarser steps.
    let narrow_day = labels(start, DAY, 5, &utc);
    assert!(narrow_day.len() < day.len());
    let narrow_quarter = labels(start, 90 * DAY, 4, &utc);
    assert!(narrow_quarter.iter().any(|l| l.ends_with(" 2027") || l.ends_with(" 2026")), "{narrow_quarter:?}");

    let decade = labels(start, 3650 * DAY, 6, &utc);
    assert!(decade.iter().all(|l| l.len() == 4 && l.parse::<u16>().is_ok()), "{decade:?}");
}

#[test]
fn time_ticks_follow_the_zone() {
    let berlin = TimeZone::get("Europe/Berlin").expect("bundled zone database");
    // Berlin is UTC+1 in December: its midnight is 23:00 UTC the day before.
    let ticks = time_ticks(MONDAY, MONDAY + 7 * DAY, &berlin, 8);
    assert_eq!(ticks[0].at_ms, MONDAY + 23 * HOUR);
    assert_eq!(ticks[0].label, "Tue 8");
    // A fixed offset works the same way.
    let ticks = time_ticks(MONDAY, MONDAY + 7 * DAY, &TimeZone::fixed(jiff::tz::offset(-5)), 8);
    assert_eq!(ticks[0].at_ms, MONDAY + 5 * HOUR);
    // 29 March 2026: Berlin skips 02:00-03:00; hourly ticks stay on the clock, none repeated.
    let dst = 1_774_738_800_000; // 2026-03-28 23:00 UTC = 29 March 00:00 CET
    let ticks = time_ticks(dst, dst + 6 * HOUR, &berlin, 12);
    let labels: Vec<&str> = ticks.iter().map(|t| t.label.as_str()).collect();
    assert_eq!(labels, ["Sun 29", "01:00", "03:00", "04:00", "05:00", "06:00", "07:00"]);
    // Out of range instants give no ticks rather than a panic.
    assert!(time_ticks(i64::MIN, i64::MAX, &berlin, 10).is_empty());
    assert!(time_ticks(MONDAY, MONDAY + HOUR, &berlin, 0).is_empty());
}

/// The `d` of every series line (paths with a stroke and no fill).
fn line_paths(root: &Element) -> Vec<String> {
    root.find("path")
        .into_iter()
        .filter(|p| p.attr("fill") == Some("none"))
        .map(|p| p.attr("d").unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_gap_breaks_the_line_into_two_segments() {
    let gap = [Some(1.0), Some(2.0), None, Some(3.0), Some(4.0)];
    for mode in MODES {
        let root = check_chart(&LineChart::new("t").series(timed("s", &gap)).render(mode));
        let paths = line_paths(&root);
        assert_eq!(paths.len(), 1);
        assert_eq!(paths[0].matches('M').count(), 2, "{}", paths[0]);
        let root = check_chart(&LineChart::new("t").area(true).series(timed("s", &gap)).render(mode));
        let areas: Vec<&str> =
            root.find("path").iter().filter(|p| p.attr("fill-opacity").is_some()).filter_map(|p| p.attr("d")).collect();
        assert_eq!(areas.len(), 1);
        assert_eq!(areas[0].matches('Z').count(), 2);
        // NaN breaks the line the same way, and is not drawn at zero.
        let nan = [Some(1.0), Some(2.0), Some(f64::NAN), Some(3.0), Some(4.0)];
        let root = check_chart(&LineChart::new("t").series(timed("s", &nan)).render(mode));
        assert_eq!(line_paths(&root)[0].matches('M').count(), 2);
        let root = check_chart(&sparkline(&gap, 100, 24, mode));
        assert_eq!(line_paths(&root)[0].matches('M').count(), 2);
    }
    // Without the gap: one segment.
    let root =
        check_chart(&LineChart::new("t").series(timed("s", &[Some(1.0), Some(2.0), Some(3.0)])).render(Mode::Light));
    assert_eq!(line_paths(&root)[0].matches('M').count(), 1);
}

#[test]
fn a_single_point_is_a_dot() {
    for mode in MODES {
        let root = check_chart(&LineChart::new("t").series(timed("s", &[None, Some(5.0), None])).render(mode));
        assert!(line_paths(&root).is_empty());
        assert_eq!(root.find("circle").len(), 1);
        let root = check_chart(&sparkline(&[Some(5.0)], 100, 24, mode));
        assert_eq!(root.find("circle").len(), 1);
    }
}

#[test]
fn empty_data_shows_the_frame_and_a_message() {
    for data in [vec![], vec![None, None], vec![Some(f64::NAN), Some(f64::INFINITY)]] {
        for mode in MODES {
            let svg = LineChart::new("t").series(timed("s", &data)).render(mode);
            let root = check_chart(&svg);
            let texts: Vec<String> = root.find("text").iter().map(|t| t.text()).collect();
            assert_eq!(texts, ["No data for this period"]);
            let message = root.find("text")[0];
            assert_eq!(message.attr("text-anchor"), Some("middle"));
            let x: f64 = message.attr("x").unwrap().parse().unwrap();
            assert!((x - 400.0).abs() < 20.0, "centred: {x}");
            assert!(line_paths(&root).is_empty() && root.find("circle").is_empty());
            assert_eq!(root.find("desc")[0].text(), "No data for this period");
        }
    }
    let svg = BarChart::new("t").empty_message("Nothing merged yet").render(Mode::Dark);
    let root = check_chart(&svg);
    assert_eq!(root.find("text")[0].text(), "Nothing merged yet");
    let svg = sparkline(&[], 100, 24, Mode::Light);
    assert_eq!(check_chart(&svg).find("desc")[0].text(), "No data.");
}

fn y_labels(root: &Element) -> Vec<String> {
    root.find("text").iter().filter(|t| t.attr("text-anchor") == Some("end")).map(|t| t.text()).collect()
}
fn x_labels(root: &Element) -> Vec<String> {
    root.find("text").iter().filter(|t| t.attr("text-anchor") == Some("middle")).map(|t| t.text()).collect()
}

#[test]
fn all_equal_values_get_a_readable_axis() {
    for value in [0.0, 7.0, -3.0, 1e9, 0.001] {
        let root = check_chart(&LineChart::new("t").series(timed("s", &[Some(value); 5])).render(Mode::Light));
        let labels = y_labels(&root);
        assert!(labels.len() >= 2, "{value}: {labels:?}");
        let mut unique = labels.clone();
        unique.dedup();
        assert_eq!(unique.len(), labels.len(), "{value}: {labels:?}");
        let root = check_chart(
            &LineChart::new("t").zero_based(false).series(timed("s", &[Some(value); 5])).render(Mode::Dark),
        );
        assert!(y_labels(&root).len() >= 2);
    }
}

#[test]
fn the_value_axis_starts_at_zero_and_covers_the_data() {
    let root = check_chart(&LineChart::new("t").series(timed("s", &[Some(950.0), Some(1000.0)])).render(Mode::Light));
    let labels = y_labels(&root);
    assert_eq!(labels.first().map(String::as_str), Some("0"));
    assert_eq!(labels.last().map(String::as_str), Some("1,000"));
    // Without zero the axis fits the data.
    let root = check_chart(
        &LineChart::new("t").zero_based(false).series(timed("s", &[Some(950.0), Some(1000.0)])).render(Mode::Light),
    );
    assert_eq!(y_labels(&root).first().map(String::as_str), Some("950"));
    // y_include widens it.
    let root = check_chart(
        &LineChart::new("t")
            .y_unit(Unit::Percent)
            .y_include(100.0)
            .series(timed("s", &[Some(12.0)]))
            .render(Mode::Light),
    );
    assert_eq!(y_labels(&root).last().map(String::as_str), Some("100%"));
}

#[test]
fn tick_counts_follow_the_size() {
    let data: Vec<Option<f64>> = (0..=24).map(|i| Some(i as f64 * 29.0)).collect();
    let render = |w, h| check_chart(&LineChart::new("t").size(w, h).series(timed("s", &data)).render(Mode::Light));
    let (page, phone, tall) = (render(800, 240), render(350, 200), render(800, 480));
    assert!(x_labels(&phone).len() < x_labels(&page).len(), "{:?} {:?}", x_labels(&phone), x_labels(&page));
    assert!(x_labels(&phone).len() >= 2);
    assert!(y_labels(&phone).len() <= y_labels(&page).len());
    assert!(y_labels(&tall).len() > y_labels(&page).len());
    // Labels stay inside the chart and apart from each other.
    for (root, width) in [(&page, 800.0), (&phone, 350.0)] {
        let xs: Vec<f64> = root
            .find("text")
            .iter()
            .filter(|t| t.attr("text-anchor") == Some("middle"))
            .map(|t| t.attr("x").unwrap().parse().unwrap())
            .collect();
        assert!(xs.iter().all(|x| *x > 10.0 && *x < width - 10.0), "{xs:?}");
        assert!(xs.windows(2).all(|w| w[1] - w[0] > 40.0), "{xs:?}");
    }
}

#[test]
fn the_modes_use_the_theme_colours() {
    let (light, dark) = (Theme::light(), Theme::dark());
    let one = || LineChart::new("t").series(timed("s", &[Some(1.0), Some(3.0)]));
    let two = || one().series(timed("u", &[Some(2.0), Some(1.0)]));

    let svg = one().render(Mode::Light);
    let root = check_chart(&svg);
    assert!(root.find("style").is_empty());
    assert!(root.all().iter().skip(1).all(|e| e.attr("class").is_none()), "no classes: {svg}");
    assert_eq!(root.find("rect")[0].attr("fill"), Some("#ffffff"));
    assert_eq!(line_paths(&root).len(), 1);
    let stroke = |root: &Element| -> Vec<String> {
        root.find("path")
            .iter()
            .filter(|p| p.attr("fill") == Some("none"))
            .map(|p| p.attr("stroke").unwrap().to_string())
            .collect()
    };
    assert_eq!(stroke(&root), ["#2563eb"], "one series wears the accent");
    assert!(root.find("text").iter().all(|t| t.attr("fill") == Some("#55555e")));
    assert!(root.find("line").iter().all(|l| ["#e4e4e9", "#cfcfd6"].contains(&l.attr("stroke").unwrap())));

    let root = check_chart(&one().render(Mode::Dark));
    assert_eq!(root.find("rect")[0].attr("fill"), Some("#16161a"));
    assert!(root.find("text").iter().all(|t| t.attr("fill") == Some("#a0a0ab")));
    assert!(root.find("line").iter().all(|l| ["#27272e", "#3a3a44"].contains(&l.attr("stroke").unwrap())));

    let root = check_chart(&two().render(Mode::Light));
    assert_eq!(stroke(&root), [light.series[0].to_string(), light.series[1].to_string()]);
    let root = check_chart(&two().render(Mode::Dark));
    assert_eq!(stroke(&root), [dark.series[0].to_string(), dark.series[1].to_string()]);
    assert!(root.find("text").iter().any(|t| t.attr("fill") == Some("#ececf1")), "legend in the foreground");

    // Adaptive: light attributes, and each role's class switched to dark under the media query.
    let svg = two().accent(Color::rgb(0x12, 0x34, 0x56)).render(Mode::Adaptive);
    let root = check_chart(&svg);
    let style = root.find("style")[0].text();
    let (light_rules, dark_rules) = style.split_once("@media (prefers-color-scheme: dark){").expect("media query");
    for (rules, theme) in [(light_rules, &light), (dark_rules, &dark)] {
        for color in [theme.surface, theme.muted, theme.grid, theme.series[0], theme.series[1]] {
            assert!(rules.contains(&color.to_string()), "{color} in {rules}");
        }
    }
    for e in
        root.all().into_iter().filter(|e| e.attr("fill").is_some_and(|f| f != "none") || e.attr("stroke").is_some())
    {
        let class = e.attr("class").unwrap_or_else(|| panic!("<{}> without a class", e.name));
        assert!(style.contains(&format!(".{class}{{")), "no rule for {class}");
    }
    assert!(!dark_rules.contains("#55555e"), "no light colour in the dark rules");
    let root = check_chart(&one().accent(Color::rgb(0x12, 0x34, 0x56)).render(Mode::Adaptive));
    assert!(root.find("style")[0].text().contains("#123456"));

    // A custom theme pair is used as given.
    let custom = Theme { surface: Color::rgb(1, 2, 3), ..Theme::light() };
    let root = check_chart(&one().themes(custom, dark.clone()).render(Mode::Light));
    assert_eq!(root.find("rect")[0].attr("fill"), Some("#010203"));
    let root = check_chart(&one().background(false).render(Mode::Light));
    assert!(root.find("rect").is_empty());
}

#[test]
fn the_palettes_read_on_their_surfaces_and_differ() {
    for theme in [Theme::light(), Theme::dark()] {
        for color in theme.series.iter().chain([&theme.accent]) {
            assert!(color.contrast(theme.surface) >= 3.0, "{color} on {}", theme.surface);
        }
        for color in &theme.series {
            assert!(color.contrast(theme.surface) >= 4.5, "{color} on {}", theme.surface);
        }
        assert!(theme.foreground.contrast(theme.surface) >= 7.0);
        assert!(theme.muted.contrast(theme.surface) >= 4.5);
        for (i, a) in theme.series.iter().enumerate() {
            for b in &theme.series[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
    assert_eq!(Theme::light().series.len(), Theme::dark().series.len(), "the same hues in both");
    assert_eq!(Color::from_hex("#2563EB"), Some(cairn_charts::DEFAULT_ACCENT));
    assert_eq!(Color::from_hex("fff"), Some(Color::rgb(255, 255, 255)));
    assert_eq!(Color::from_hex("#12345"), None);
    assert_eq!(Color::from_hex("#12345g"), None);
}

#[test]
fn a_legend_only_for_several_series() {
    let one = check_chart(&LineChart::new("t").series(timed("alpha", &[Some(1.0), Some(2.0)])).render(Mode::Light));
    assert!(!one.find("text").iter().any(|t| t.text() == "alpha"));
    let two = check_chart(
        &BarChart::new("t")
            .categories(["a", "b"])
            .series(Series::categorical("alpha", [Some(1.0), Some(2.0)]))
            .series(Series::categorical("beta", [Some(2.0), Some(1.0)]))
            .render(Mode::Light),
    );
    let texts: Vec<String> = two.find("text").iter().map(|t| t.text()).collect();
    assert!(texts.contains(&"alpha".to_string()) && texts.contains(&"beta".to_string()), "{texts:?}");
    // Past the palette, lines are dashed.
    let mut chart = LineChart::new("t");
    for i in 0..8 {
        chart = chart.series(timed(&format!("s{i}"), &[Some(1.0), Some(i as f64)]));
    }
    let root = check_chart(&chart.render(Mode::Light));
    let dashed = root.find("path").iter().filter(|p| p.attr("stroke-dasharray").is_some()).count();
    assert_eq!(dashed, 8 - Theme::light().series.len());
}

#[test]
fn the_description_summarises_the_data() {
    let svg = LineChart::new("CPU")
        .description("CPU of web-1.")
        .y_unit(Unit::Percent)
        .series(timed("web-1", &[Some(12.0), None, Some(80.5), Some(33.0)]))
        .render(Mode::Light);
    let desc = check_chart(&svg).find("desc")[0].text();
    assert_eq!(
        desc,
        "CPU of web-1. From 7 Dec 2026 00:00 to 7 Dec 2026 03:00. web-1: min 12%, max 80.5%, last 33%, 1 missing."
    );
    let svg = BarChart::new("PRs")
        .categories(["Mon", "Tue", "Wed"])
        .series(Series::categorical("Merged", [Some(3.0), None, Some(1234.0)]))
        .render(Mode::Light);
    assert_eq!(check_chart(&svg).find("desc")[0].text(), "Merged: Mon 3, Tue no data, Wed 1,234.");
    let svg = LineChart::new("t")
        .time_zone(TimeZone::fixed(jiff::tz::offset(2)))
        .series(timed("s", &[Some(1.0), Some(2.0)]))
        .render(Mode::Light);
    assert!(check_chart(&svg).find("desc")[0].text().starts_with("From 7 Dec 2026 02:00 to 7 Dec 2026 03:00."));
}

#[test]
fn bars_stand_on_zero() {
    let svg = BarChart::new("t")
        .categories(["a", "b", "c", "d"])
        .series(Series::categorical("s", [Some(10.0), Some(-5.0), None, Some(0.0)]))
        .background(false)
        .render(Mode::Light);
    let root = check_chart(&svg);
    let bars = root.find("rect");
    assert_eq!(bars.len(), 2, "a missing value and a zero draw no bar");
    let zero_line = root.find("line").into_iter().find(|l| l.attr("stroke") == Some("#cfcfd6")).unwrap();
    let zero: f64 = zero_line.attr("y1").unwrap().parse().unwrap();
    let top = |r: &Element| r.attr("y").unwrap().parse::<f64>().unwrap();
    let bottom = |r: &Element| top(r) + r.attr("height").unwrap().parse::<f64>().unwrap();
    assert!((bottom(bars[0]) - zero).abs() <= 1.0 && top(bars[0]) < zero, "positive bar up from zero");
    assert!((top(bars[1]) - zero).abs() <= 1.0 && bottom(bars[1]) > zero, "negative bar down from zero");
    // Category labels, thinned when they do not fit.
    assert_eq!(x_labels(&root), ["a", "b", "c", "d"]);
    let many: Vec<String> = (1..=52).map(|w| format!("Week {w}")).collect();
    let svg = BarChart::new("t")
        .size(350, 200)
        .categories(many.clone())
        .series(Series::categorical("s", many.iter().map(|_| Some(1.0))))
        .render(Mode::Light);
    let root = check_chart(&svg);
    let shown = x_labels(&root);
    assert!(shown.len() >= 2 && shown.len() < 10, "{shown:?}");
    assert_eq!(root.find("rect").len(), 1 + 52);
}

#[test]
fn stacked_bars_pile_up_from_zero() {
    let svg = BarChart::new("t")
        .categories(["a", "b"])
        .series(Series::categorical("Bug", [Some(2.0), Some(-1.0)]))
        .series(Series::categorical("Story", [Some(6.0), Some(-3.0)]))
        .stacked(true)
        .background(false)
        .render(Mode::Light);
    let root = check_chart(&svg);
    // The legend's two swatches are rects too: the bars are the ones taller than a swatch.
    let top = |r: &Element| r.attr("y").unwrap().parse::<f64>().unwrap();
    let height = |r: &Element| r.attr("height").unwrap().parse::<f64>().unwrap();
    let x = |r: &Element| r.attr("x").unwrap().parse::<f64>().unwrap();
    let rects = root.find("rect");
    let bars: Vec<&Element> = rects.iter().copied().filter(|r| height(r) > 12.0).collect();
    assert_eq!(bars.len(), 4, "one segment per value");
    let (bug_a, bug_b, story_a, story_b) = (bars[0], bars[1], bars[2], bars[3]);
    assert_eq!(x(bug_a), x(story_a), "a category's segments share one bar");
    assert!((top(bug_a) - (top(story_a) + height(story_a))).abs() < 0.15, "the second sits on the first");
    assert!((height(story_a) / height(bug_a) - 3.0).abs() < 0.05, "heights follow the values");
    assert!((top(story_b) - (top(bug_b) + height(bug_b))).abs() < 0.15, "negative ones hang below");
    // The scale reaches the piles (8 and −4), not only the largest values (6 and −3).
    assert_eq!(y_labels(&root), ["−5", "0", "5", "10"]);
}

#[test]
fn line_charts_over_categories_use_the_labels() {
    let svg = LineChart::new("t")
        .categories(["Q1", "Q2", "Q3"])
        .series(Series::categorical("s", [Some(1.0), Some(2.0), Some(3.0)]))
        .render(Mode::Light);
    let root = check_chart(&svg);
    assert_eq!(x_labels(&root), ["Q1", "Q2", "Q3"]);
    assert!(root.find("desc")[0].text().starts_with("Q1 to Q3."));
}

#[test]
fn the_period_bounds_the_time_axis() {
    let svg = LineChart::new("t")
        .period(MONDAY, MONDAY + DAY)
        .series(Series::new(
            "s",
            [(MONDAY - HOUR, Some(99.0)), (MONDAY + 12 * HOUR, Some(1.0)), (MONDAY + 13 * HOUR, Some(2.0))],
        ))
        .render(Mode::Light);
    let root = check_chart(&svg);
    let labels = y_labels(&root);
    assert_eq!(labels.last().map(String::as_str), Some("2"), "the point before the period is left out: {labels:?}");
    assert!(root.find("desc")[0].text().starts_with("From 7 Dec 2026 00:00 to 8 Dec 2026 00:00."));
}
