//! Issuing throughput, one core: signing alone, sign + QR matrix + PNG, and print-ready PDF
//! pages (Chromium, then print QA) — `scripts/bench-issue.sh` runs it in release mode.
//! Prints a table of medians over several rounds; not a test.

use std::time::Instant;

use pass_core::{Pass, SecretKey};
use pass_issuer::issue::PassRequest;
use pass_issuer::ledger::Record;
use pass_issuer::print::{self, Layout, PageInfo};
use pass_issuer::render::{DEFAULT_MODULE_PX, Qr};

fn request() -> PassRequest {
    PassRequest::from_pass(&Pass::realistic_example())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn rate(rounds: usize, n: usize, mut f: impl FnMut(u64)) -> f64 {
    median(
        (0..rounds)
            .map(|_| {
                let start = Instant::now();
                for i in 0..n {
                    f(i as u64 + 1);
                }
                n as f64 / start.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

fn main() -> anyhow::Result<()> {
    let pages: usize = std::env::args().nth(1).map_or(Ok(50), |s| s.parse())?;
    let key = SecretKey::from_seed(&[7; 32]);
    let sign = rate(5, 5000, |serial| {
        let pass = request().into_pass(serial, 1_648_700_000);
        std::hint::black_box(pass_core::envelope::sign(&pass, &key).expect("signs"));
    });
    let full = rate(5, 500, |serial| {
        let pass = request().into_pass(serial, 1_648_700_000);
        let bytes = pass_core::envelope::sign(&pass, &key).expect("signs");
        let qr = Qr::new(&bytes).expect("fits");
        std::hint::black_box(qr.to_png(DEFAULT_MODULE_PX).expect("png"));
    });
    let bytes = pass_core::envelope::sign(&request().into_pass(1, 1_648_700_000), &key)?;
    let qr_only = rate(5, 500, |_| {
        std::hint::black_box(Qr::new(&bytes).expect("fits"));
    });
    let qr = Qr::new(&bytes)?;
    let png_only = rate(5, 500, |_| {
        std::hint::black_box(qr.to_png(DEFAULT_MODULE_PX).expect("png"));
    });
    let records: Vec<Record> = (1..=pages as u64)
        .map(|serial| {
            let pass = request().into_pass(serial, 1_648_700_000);
            let envelope = pass_core::envelope::sign(&pass, &key).expect("signs");
            Record { key_id: key.public_key().id(), pass, envelope }
        })
        .collect();
    let info = PageInfo {
        title: print::DEFAULT_TITLE.into(),
        office: "Bench Office".into(),
        division: pass_core::Division::new(440_114).ok(),
        tz: pass_core::time::default_zone(),
    };
    let out = tempfile::tempdir()?;
    let tools = print::Tools::find()?;
    let pdf_rate = median(
        (0..3)
            .map(|_| {
                let start = Instant::now();
                print::print_pdf(&tools, &records, &info, Layout::A4, &key.public_key(), &out.path().join("bench.pdf"))
                    .expect("prints");
                pages as f64 / start.elapsed().as_secs_f64()
            })
            .collect(),
    );
    println!("issuing throughput, one thread, medians ({} cores, {})", num_cores(), std::env::consts::ARCH);
    println!("| step | per second | goal |");
    println!("|---|---|---|");
    println!("| sign (validate + postcard + Ed25519) | {sign:.0} passes | ≥ 20,000 |");
    println!("| issue: sign + QR matrix + PNG | {full:.0} passes | ≥ 500 |");
    println!("| of which: QR matrix (version choice, masking) | {qr_only:.0} | — |");
    println!("| of which: PNG ({DEFAULT_MODULE_PX} px/module, 1 bit) | {png_only:.0} | — |");
    println!("| PDF, A4, {pages} pages: HTML + Chromium + 150-dpi print QA | {pdf_rate:.1} pages | — |");
    Ok(())
}

fn num_cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
