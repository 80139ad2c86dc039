//! The HTML report in a real browser: headless Chromium (Debian package
//! `chromium`; `.ci/run` installs it) loads the report of shipped captures
//! with no console message (the page's Content-Security-Policy turns any
//! outside resource into one, and so does a malformed SVG attribute), a
//! screenshot shows the findings table and a ladder where they belong, and
//! the verdict filter hides the other flows.
//!
//! Without Chromium the tests skip with a message; with `CI=true` they
//! fail. `TLSAUDIT_CHROMIUM` names another binary.
//! `TLSAUDIT_UPDATE_SCREENSHOT=1` also copies the screenshot of the
//! failing-handshake ticket to `docs/html-report.png` (shown in the README).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{root, tlsaudit};

const CN_ARGS: [&str; 4] = [
    "--server-cn",
    "imp.example.com",
    "--client-cn",
    "ocs.example.com",
];

/// Colours the report uses (`src/report/html.rs`, `svg.rs`).
const FAIL_CELL: [u8; 3] = [0xfe, 0xca, 0xca];
const HANDSHAKE_ARROW: [u8; 3] = [0x1d, 0x4e, 0xd8];
const FAIL_HIGHLIGHT: [u8; 3] = [0xfe, 0xe2, 0xe2];

fn chromium() -> Option<PathBuf> {
    let candidates = std::env::var_os("TLSAUDIT_CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["/usr/bin/chromium", "/usr/bin/chromium-browser"].map(PathBuf::from));
    for c in candidates {
        if c.is_file() {
            return Some(c);
        }
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but Chromium is missing: .ci/run installs the Debian package chromium");
    }
    eprintln!(
        "skipping the browser test: Chromium not found (apt-get install chromium, or set TLSAUDIT_CHROMIUM)"
    );
    None
}

/// Headless Chromium with a fresh profile and nothing that goes online by itself.
fn browser(bin: &Path, profile: &Path, window: (u32, u32)) -> Command {
    let mut c = Command::new(bin);
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        // Containers often have a small /dev/shm.
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        "--enable-logging=stderr",
        "--v=0",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--window-size={},{}", window.0, window.1));
    c
}

/// Console messages Chromium logged for the page (`…:CONSOLE:…] "…"`).
fn console_lines(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect()
}

struct Shot {
    width: usize,
    height: usize,
    rgb: Vec<[u8; 3]>,
}

impl Shot {
    fn load(path: &Path) -> Shot {
        let file = std::fs::File::open(path).expect("screenshot written");
        let mut decoder = png::Decoder::new(file);
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().expect("screenshot is a PNG");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("PNG decodes");
        let step = match info.color_type {
            png::ColorType::Rgba => 4,
            png::ColorType::Rgb => 3,
            other => panic!("unexpected PNG colour type {other:?}"),
        };
        let rgb = buf[..info.buffer_size()]
            .chunks_exact(step)
            .map(|p| [p[0], p[1], p[2]])
            .collect();
        Shot {
            width: info.width as usize,
            height: info.height as usize,
            rgb,
        }
    }

    /// Bounding box (x0, y0, x1, y1) and count of the pixels of `colour`.
    fn find(&self, colour: [u8; 3]) -> Option<((usize, usize, usize, usize), usize)> {
        let mut bbox: Option<(usize, usize, usize, usize)> = None;
        let mut n = 0;
        for (i, p) in self.rgb.iter().enumerate() {
            if *p != colour {
                continue;
            }
            n += 1;
            let (x, y) = (i % self.width, i / self.width);
            bbox = Some(match bbox {
                None => (x, y, x, y),
                Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
            });
        }
        bbox.map(|b| (b, n))
    }

    /// Share of pixels in rows `y0..y1` that are not white.
    fn ink(&self, y0: usize, y1: usize) -> f64 {
        let rows = &self.rgb[y0 * self.width..y1.min(self.height) * self.width];
        let inked = rows.iter().filter(|p| **p != [255, 255, 255]).count();
        inked as f64 / rows.len().max(1) as f64
    }
}

#[test]
fn html_report_loads_in_chromium_without_console_errors_and_shows_table_and_ladder() {
    let Some(bin) = chromium() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let report = dir.path().join("report.html");
    let report_arg = report.to_str().expect("utf-8 temp path");
    // The failing-handshake ticket first (its ladder is open at the top),
    // then more captures: one file for several inputs.
    let mut args = vec!["check", "-q", "--format", "html", "-o", report_arg];
    args.extend(CN_ARGS);
    args.extend([
        "captures/client-cert-required-missing.pcap",
        "captures/compliant-mtls.pcap",
        "captures/several-flows.pcap",
    ]);
    let out = tlsaudit(&args);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let html = std::fs::read_to_string(&report).expect("report written");
    assert_eq!(
        html.matches("<svg class=\"ladder\"").count(),
        5,
        "one ladder per flow"
    );
    let url = format!("file://{}", report.display());

    // 1. The page loads with no console message, and the browser's DOM
    //    holds the table and the ladders.
    let dom = browser(&bin, &dir.path().join("profile-dom"), (1100, 1900))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    assert!(dom.status.success(), "chromium failed: {dom:?}");
    let console = console_lines(&dom.stderr);
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert!(dom_text.contains("<table id=\"summary\">"), "{dom_text}");
    assert_eq!(dom_text.matches("<svg class=\"ladder\"").count(), 5);

    // 2. A screenshot: the table's failing cells above the first ladder's
    //    arrows, the failing step highlighted inside the ladder.
    let png_path = dir.path().join("report.png");
    let shot_run = browser(&bin, &dir.path().join("profile-shot"), (1100, 1900))
        .arg(format!("--screenshot={}", png_path.display()))
        .arg(&url)
        .output()
        .expect("chromium runs");
    assert!(shot_run.status.success(), "chromium failed: {shot_run:?}");
    let console = console_lines(&shot_run.stderr);
    assert!(
        console.is_empty(),
        "console messages:\n{}",
        console.join("\n")
    );
    let shot = Shot::load(&png_path);
    assert_eq!((shot.width, shot.height), (1100, 1900));

    let ((_, table_top, _, _), fail_cells) =
        shot.find(FAIL_CELL).expect("failing table cells are drawn");
    assert!(fail_cells > 500, "failing cells: {fail_cells} pixels");
    let ((ax0, ladder_top, ax1, ladder_bottom), arrow_px) = shot
        .find(HANDSHAKE_ARROW)
        .expect("handshake arrows are drawn");
    assert!(
        table_top < ladder_top,
        "the table ({table_top}) is above the ladder ({ladder_top})"
    );
    assert!(
        ax1 - ax0 > 300 && ladder_bottom - ladder_top > 100 && arrow_px > 1000,
        "arrows span the lifelines and several rungs: {ax0}..{ax1} x {ladder_top}..{ladder_bottom}, {arrow_px} px"
    );
    let (_, highlight_px) = shot
        .find(FAIL_HIGHLIGHT)
        .expect("the failing step is highlighted");
    assert!(highlight_px > 2000, "highlight: {highlight_px} px");
    // Neither region is blank: text and lines around the coloured pixels.
    assert!(shot.ink(table_top.saturating_sub(60), table_top + 60) > 0.05);
    assert!(shot.ink(ladder_top, ladder_bottom) > 0.05);

    // 3. The verdict filter (CSS only): the same page with "pass" chosen,
    //    as a click on it would, shows no failing cell at all.
    let filtered = dir.path().join("pass-only.html");
    let html_pass = html
        .replace(r#"id="f-all" checked>"#, r#"id="f-all">"#)
        .replace(r#"id="f-pass">"#, r#"id="f-pass" checked>"#);
    assert_ne!(html_pass, html, "the filter radios are where expected");
    std::fs::write(&filtered, html_pass).expect("write filtered page");
    let png_pass = dir.path().join("pass-only.png");
    let run = browser(&bin, &dir.path().join("profile-pass"), (1100, 1900))
        .arg(format!("--screenshot={}", png_pass.display()))
        .arg(format!("file://{}", filtered.display()))
        .output()
        .expect("chromium runs");
    assert!(run.status.success(), "chromium failed: {run:?}");
    let shot = Shot::load(&png_pass);
    assert_eq!(shot.find(FAIL_CELL), None, "failing flows are hidden");
    assert_eq!(shot.find(FAIL_HIGHLIGHT), None, "and so are their ladders");

    if std::env::var("TLSAUDIT_UPDATE_SCREENSHOT").is_ok_and(|v| v == "1") {
        // The README's picture: the failing-handshake ticket alone.
        let ticket = dir.path().join("ticket.html");
        let ticket_arg = ticket.to_str().expect("utf-8 temp path");
        let mut args = vec!["check", "-q", "--format", "html", "-o", ticket_arg];
        args.extend(CN_ARGS);
        args.push("captures/client-cert-required-missing.pcap");
        tlsaudit(&args);
        let docs = root().join("docs/html-report.png");
        browser(&bin, &dir.path().join("profile-docs"), (1000, 1750))
            .arg(format!("--screenshot={}", docs.display()))
            .arg(format!("file://{}", ticket.display()))
            .output()
            .expect("chromium runs");
    }
}
