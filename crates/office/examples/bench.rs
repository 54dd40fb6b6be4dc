//! The office console's bench (`scripts/bench-office.sh`): a ledger of 100,000 passes and
//! 10,000 applications, then the review queue, searches by plate, pass number and enterprise,
//! a page of the list and an application page, each asked 200 times over loopback HTTP (so
//! the times include the HTTP round trip: an upper bound on the server's own), the export of
//! every pass as CSV and .xlsx, and one 200-truck application approved until its PDF is ready.
//! Prints a table. Needs Chromium and pdftoppm for the last row.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const PASSES: usize = 100_000;
const APPLICATIONS: usize = 10_000;
const ASKS: usize = 200;

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("key");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::copy(root.join("keys-example/issuer.pub"), keys.join("issuer.pub")).unwrap();
    let key_path = keys.join("issuer.key");
    std::fs::copy(root.join("keys-example/issuer.key"), &key_path).unwrap();
    std::fs::set_permissions(&key_path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let data = dir.path().join("data");
    let now = (pass_office::system_clock())();
    pass_office::init(&data, &key_path, "Bench Office", now).unwrap();

    // The ledger: 100,000 passes, issued in batches as approvals would.
    let started = Instant::now();
    let key = pass_issuer::keyfile::load_secret(&key_path).unwrap();
    let mut ledger = pass_issuer::ledger::Ledger::open(&data.join(pass_office::LEDGER_FILE)).unwrap();
    let tz = pass_core::time::default_zone();
    let day = |offset: i64| pass_core::time::rfc3339((now as i64 + offset * 86_400) as u64, &tz);
    let fields = |i: usize| -> BTreeMap<String, String> {
        [
            ("plate", format!("粤A{:05}", i % 100_000)),
            ("vehicle_type", "heavy-truck".into()),
            ("driver", "张三".into()),
            ("co_drivers", "李四".into()),
            ("origin", "440114".into()),
            ("destination", "310115".into()),
            ("zones", "440114;310000".into()),
            ("cargo", "汽车零部件".into()),
            ("valid_from", day(-1)),
            ("valid_until", day(30)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    };
    let holder = "东风日产乘用车公司花都工厂";
    let request = |i: usize| {
        let f = fields(i);
        pass_issuer::csv_import::parse_fields(
            1,
            |name| if name == "holder" { holder } else { f.get(name).map_or("", String::as_str) },
            &tz,
        )
        .unwrap()
    };
    for chunk in 0..PASSES / 10_000 {
        let info = pass_issuer::ledger::BatchInfo {
            sha256: format!("bench-{chunk}"),
            file_name: "bench".into(),
            again: false,
            now,
        };
        let requests: Vec<_> = (0..10_000).map(|index| request(chunk * 10_000 + index)).collect();
        pass_issuer::issue::issue_batch(&key, &mut ledger, &requests, &info).unwrap();
    }
    let ledger_secs = started.elapsed().as_secs_f64();

    // Accounts and 10,000 applications (a tenth still waiting).
    let started = Instant::now();
    let conn = rusqlite::Connection::open(data.join(pass_office::DB_FILE)).unwrap();
    let password = "bench-password-1";
    let hash = pass_office::auth::hash_password(password).unwrap();
    let mut conn = conn;
    let tx = conn.transaction().unwrap();
    let reviewer = pass_office::db::create_account(
        &tx,
        "reviewer",
        pass_office::db::Role::Reviewer,
        &hash,
        false,
        None,
        "admin2",
        now,
    )
    .unwrap();
    let enterprises: Vec<i64> = (0..100)
        .map(|e| {
            let name = format!("企业{e}");
            pass_office::db::create_account(
                &tx,
                &format!("e{e}"),
                pass_office::db::Role::Enterprise,
                &hash,
                false,
                Some((&name, None)),
                "admin",
                now,
            )
            .unwrap()
        })
        .collect();
    for i in 0..APPLICATIONS {
        let vehicles: Vec<_> = (0..1 + i % 3).map(|v| fields(i * 3 + v)).collect();
        let at = now - (APPLICATIONS - i) as u64 * 30;
        let id = pass_office::db::insert_application(&tx, enterprises[i % 100], enterprises[i % 100], &vehicles, at)
            .unwrap();
        if i % 10 != 0 {
            // Its passes: one a vehicle, each with the driver's e-pass link (a pass number
            // finds its application through them).
            let serials: Vec<u64> = (0..vehicles.len()).map(|v| (i * 3 + v + 1) as u64).collect();
            let state = pass_office::db::State::Printed;
            pass_office::db::decide(&tx, id, state, reviewer, at + 600, None, &serials).unwrap();
            for serial in serials {
                pass_office::db::insert_epass(&tx, &format!("bench{serial}"), id, serial, now + 30 * 86_400).unwrap();
            }
        }
    }
    tx.commit().unwrap();
    drop(conn);
    let db_secs = started.elapsed().as_secs_f64();

    let office = pass_office::Office::open(&data, pass_office::Transport::Plain, pass_office::system_clock()).unwrap();
    let addr = pass_office::spawn_on_loopback(office);
    let base = format!("http://{addr}");
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let mut form = agent.get(&format!("{base}/login")).call().unwrap();
    let login_cookie =
        form.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    let body = form.body_mut().read_to_string().unwrap();
    let token = body.split("name=\"csrf\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let login = agent
        .post(&format!("{base}/login"))
        .header("Cookie", &login_cookie)
        .send_form([("csrf", token.as_str()), ("login", "reviewer"), ("password", password)])
        .unwrap();
    let cookie = login.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    let get = |path: &str| -> (Duration, String) {
        let started = Instant::now();
        let mut response = agent.get(&format!("{base}{path}")).header("Cookie", &cookie).call().unwrap();
        let body = response.body_mut().read_to_string().unwrap();
        assert_eq!(response.status(), 200, "{path}");
        (started.elapsed(), body)
    };
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let mut rows = Vec::new();
    let mut measure = |name: &str, mut path: Box<dyn FnMut() -> String>| {
        let mut times: Vec<f64> = (0..ASKS).map(|_| get(&path()).0.as_secs_f64() * 1000.0).collect();
        times.sort_by(f64::total_cmp);
        let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        rows.push((name.to_owned(), pick(0.5), pick(0.95), times[times.len() - 1]));
    };
    let (_, queue) = get("/queue");
    assert!(queue.matches("<tr>").count() > 40, "the queue lists a page of the waiting applications");
    measure("review queue (1,000 waiting, 50 a page)", Box::new(|| "/queue".to_owned()));
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let pick = move |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    measure("search by plate", Box::new(move || format!("/applications?q=A{:04}", next(10_000))));
    let division = pass_issuer::office::office_division(&key_path).map_or(String::new(), |d| d.to_string());
    let mut pick_number = pick;
    measure(
        "search by pass number",
        Box::new(move || {
            // A decided application's first pass (application i has serial i * 3 + 1).
            let i = 1 + pick_number(APPLICATIONS - 1);
            let i = if i % 10 == 0 { i - 1 } else { i };
            format!("/applications?q={division}{:06}", i * 3 + 1)
        }),
    );
    let mut pick_enterprise = pick;
    measure(
        "search by enterprise",
        Box::new(move || {
            let name: String = format!("企业{}", pick_enterprise(100))
                .bytes()
                .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
                .collect();
            format!("/applications?q={name}")
        }),
    );
    let mut pick_page = pick;
    measure(
        "all applications, a page of 50 (of 200)",
        Box::new(move || format!("/applications?page={}", 1 + pick_page(APPLICATIONS / 50))),
    );
    let mut next_id = {
        let mut rng = 7u64;
        move || {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            1 + (rng >> 33) as usize % APPLICATIONS
        }
    };
    measure("an application page", Box::new(move || format!("/applications/{}", next_id())));
    let (_, found) = get(&format!("/applications?q={}", "%E4%BC%81%E4%B8%9A7"));
    assert!(found.contains("企业7"), "a search by enterprise finds it");

    // The export of every issued pass, as CSV and as .xlsx, timed (3 each, the median).
    let export = |path: &str| -> (f64, usize) {
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..3 {
            let started = Instant::now();
            let mut response = agent.get(&format!("{base}{path}")).header("Cookie", &cookie).call().unwrap();
            let body = response.body_mut().with_config().limit(1 << 30).read_to_vec().unwrap();
            times.push(started.elapsed().as_secs_f64());
            assert_eq!(response.status(), 200, "{path}");
            size = body.len();
        }
        times.sort_by(f64::total_cmp);
        (times[1], size)
    };
    let (csv_secs, csv_bytes) = export("/passes.csv");
    let (xlsx_secs, xlsx_bytes) = export("/passes.xlsx");

    // A 200-truck application, approved until its PDF is ready (issue in one batch, print, QA).
    let mut conn = rusqlite::Connection::open(data.join(pass_office::DB_FILE)).unwrap();
    let tx = conn.transaction().unwrap();
    let vehicles: Vec<_> = (0..200).map(|v| fields(200_000 + v)).collect();
    let big = pass_office::db::insert_application(&tx, enterprises[0], enterprises[0], &vehicles, now).unwrap();
    tx.commit().unwrap();
    let (_, page) = get(&format!("/applications/{big}"));
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = page[at..].split('"').next().unwrap().to_owned();
    let started = Instant::now();
    let response = agent
        .post(&format!("{base}/applications/{big}/approve"))
        .header("Cookie", &cookie)
        .send_form([("csrf", csrf.as_str())])
        .unwrap();
    let approve_secs = started.elapsed().as_secs_f64();
    assert_eq!(response.status(), 303);
    let (_, page) = get(&format!("/applications/{big}"));
    let printed = page.contains("下载通行证");

    println!(
        "office bench: {PASSES} passes in the ledger ({ledger_secs:.1} s to make), {APPLICATIONS} applications ({db_secs:.1} s), {ASKS} asks each, loopback HTTP"
    );
    println!();
    println!("| request | median ms | p95 ms | max ms | goal |");
    println!("|---|---|---|---|---|");
    for (name, median, p95, max) in rows {
        println!(
            "| {name} | {median:.1} | {p95:.1} | {max:.1} | p95 < 50 ms: {} |",
            if p95 < 50.0 { "met" } else { "NOT met" }
        );
    }
    for (name, secs, bytes) in [("CSV", csv_secs, csv_bytes), (".xlsx", xlsx_secs, xlsx_bytes)] {
        println!(
            "| export of {PASSES} passes as {name} ({:.1} MB), median of 3 | {secs:.2} s | | | < 5 s: {} |",
            bytes as f64 / 1e6,
            if secs < 5.0 { "met" } else { "NOT met" }
        );
    }
    println!(
        "| approve a 200-truck application until its PDF is ready | {approve_secs:.1} s | | | < 30 s: {} |",
        if approve_secs < 30.0 && printed {
            "met"
        } else if printed {
            "NOT met"
        } else {
            "not printed (Chromium?)"
        }
    );
}
