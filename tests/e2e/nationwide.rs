//! Nationwide recognition (全国互认): a national root lists three authorities (广东 440000,
//! 上海 310000, 江苏 320000), each with its own keys, issuers and `pass-server`; a mirror copies
//! every authority's signed documents into a directory that Debian's nginx serves as static
//! files; a Shanghai checkpoint with a `[root]` trust file syncs only from that nginx. And
//! nginx as a caching proxy in front of one `pass-server`, and a server publishing its own
//! documents as files.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{Nginx, Run, Server, http, issuer, server, verifier};

/// A key made by `pass-issuer keygen` in `dir`: an authority's (or the root's) with
/// `division` `None`, else an office's.
fn keygen(dir: &Path, name: &str, division: Option<&str>) -> PathBuf {
    let mut args = vec!["keygen", "--out", dir.to_str().unwrap(), "--name", name];
    match division {
        Some(division) => args.extend(["--division", division]),
        None => args.push("--authority"),
    }
    let run = issuer(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    dir.join(if division.is_some() { "issuer.key" } else { "authority.key" })
}

/// The public key beside a secret key.
fn public(key: &Path) -> pass_core::PublicKey {
    let text = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    pass_core::keys::PublicKeyFile::parse(&text).unwrap().1
}

/// The `[[issuer]]` entry an authority adds for an office's key.
fn trust_entry(key: &Path) -> String {
    let run = issuer(&["trust-entry", "--key", key.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stdout
}

/// Issues a pass with `key` (ledger beside it), valid from yesterday for 30 days; its PNG (its
/// text form beside it, `PLATE.txt`).
fn issue(key: &Path, plate: &str, origin: &str, zones: &[&str]) -> PathBuf {
    let now = jiff::Timestamp::now().as_second();
    let rfc3339 = |secs: i64| jiff::Timestamp::from_second(secs).unwrap().to_string();
    let (from, until) = (rfc3339(now - 86_400), rfc3339(now + 30 * 86_400));
    let dir = key.parent().unwrap();
    let png = dir.join(format!("{plate}.png"));
    let ledger = dir.join("ledger.sqlite");
    #[rustfmt::skip]
    let mut args = vec![
        "issue", "--key", key.to_str().unwrap(), "--ledger", ledger.to_str().unwrap(),
        "--plate", plate, "--vehicle-type", "heavy-truck", "--holder", "某运输公司", "--driver", "张三",
        "--origin", origin, "--destination", "310115", "--cargo", "汽车零部件",
        "--from", &from, "--until", &until, "--out", png.to_str().unwrap(), "--json",
    ];
    for zone in zones {
        args.extend(["--zone", zone]);
    }
    let run = issuer(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    std::fs::write(png.with_extension("txt"), run.json()["text"].as_str().unwrap()).unwrap();
    png
}

/// The authority list TOML for `entries` (name, key, province, URL).
fn list_toml(version: u64, entries: &[(&str, &Path, &str, &str)]) -> String {
    let mut text = format!("version = {version}\n");
    for (name, key, province, url) in entries {
        let key = public(key);
        text.push_str(&format!(
            "\n[[authority]]\nname = \"{name}\"\nkey_id = \"{}\"\npublic_key = \"{}\"\nprovinces = [\"{province}\"]\nurls = [\"{url}\"]\n",
            key.id(),
            key.encode()
        ));
    }
    text
}

/// Signs `text` with the root key into `out`.
fn sign_list(root_key: &Path, text: &str, out: &Path) {
    let toml = out.with_extension("toml");
    std::fs::write(&toml, text).unwrap();
    let run = server(&[
        "authorities",
        "sign",
        "--root-key",
        root_key.to_str().unwrap(),
        toml.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// One checkpoint: its trust file and state.
struct Checkpoint {
    trust: PathBuf,
    state: PathBuf,
}

impl Checkpoint {
    fn sync(&self, servers: &[&str]) -> Run {
        let mut args = vec!["sync", "--trust", self.trust.to_str().unwrap(), "--state", self.state.to_str().unwrap()];
        for s in servers {
            args.extend(["--server", s]);
        }
        verifier(&args)
    }

    /// A checkpoint whose trust file names the root of `root_key` as `[root]`, its files in `dir`.
    fn rooted(dir: &Path, root_key: &Path, state: &str) -> Checkpoint {
        let root_pub = std::fs::read_to_string(root_key.with_extension("pub")).unwrap();
        let root_lines: String = root_pub.lines().filter(|l| !l.starts_with('#')).map(|l| format!("{l}\n")).collect();
        let trust = dir.join("checkpoint-trust.toml");
        std::fs::write(&trust, format!("[root]\n{root_lines}")).unwrap();
        Checkpoint { trust, state: dir.join(state) }
    }

    /// `scan` at the Shanghai zone with `extra` arguments.
    fn scan_with(&self, png: &Path, extra: &[&str]) -> Run {
        let mut args = vec![
            "scan",
            png.to_str().unwrap(),
            "--trust",
            self.trust.to_str().unwrap(),
            "--state",
            self.state.to_str().unwrap(),
            "--zone",
            "310115",
        ];
        args.extend_from_slice(extra);
        verifier(&args)
    }

    fn scan(&self, png: &Path) -> Value {
        self.scan_with(png, &["--json"]).json()
    }

    fn verdict(&self, png: &Path) -> (String, String) {
        let v = self.scan(png);
        (v["verdict"].as_str().unwrap_or("").to_owned(), v["reason"].as_str().unwrap_or("").to_owned())
    }

    fn status(&self) -> String {
        let run =
            verifier(&["status", "--trust", self.trust.to_str().unwrap(), "--state", self.state.to_str().unwrap()]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stdout
    }
}

/// What a compromised or mistaken mirror does: serves `list` (whatever signed it) and names it
/// in its combined heartbeat file.
fn serve_list(out: &Path, list: &Path, version: u64) {
    use pass_core::authority::{combine_heartbeats, split_heartbeats};
    let bytes = std::fs::read(list).unwrap();
    std::fs::write(out.join("v1/authorities"), &bytes).unwrap();
    let combined = std::fs::read(out.join("v1/heartbeats")).unwrap();
    let beats = split_heartbeats(&combined).unwrap().beats;
    let named = Some((version, pass_core::authorities::list_digest(&bytes)));
    std::fs::write(out.join("v1/heartbeats"), combine_heartbeats(named, &beats)).unwrap();
}

fn mirror(root_pub: &Path, list: &Path, out: &Path) -> Run {
    server(&[
        "mirror",
        "--root",
        root_pub.to_str().unwrap(),
        "--authorities",
        list.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
}

/// The issue's acceptance, end to end: a Shanghai checkpoint syncing only from the mirror
/// behind nginx accepts a Huadu pass, rejects a Kunshan pass revoked on the Jiangsu server,
/// stays fresh from the mirror's copies with the Guangdong server stopped, and refuses (keeping
/// its last good state) a forged list, a rolled-back list, an issuer outside its authority's
/// provinces, a mirror serving tampered or older documents, and a removed authority's passes.
#[test]
fn three_authorities_one_mirror_behind_nginx() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root_key = keygen(&d.join("root"), "国家通行证根", None);
    let gd_key = keygen(&d.join("gd"), "广东省交通运输厅", None);
    let sh_key = keygen(&d.join("sh"), "上海市交通委员会", None);
    let js_key = keygen(&d.join("js"), "江苏省交通运输厅", None);
    let huadu = keygen(&d.join("huadu"), "广州市花都区工业和信息化局", Some("440114"));
    let kunshan = keygen(&d.join("kunshan"), "昆山市工业和信息化局", Some("320583"));
    // Listed by Jiangsu, but at home in Guangzhou: outside Jiangsu's provinces.
    let rogue = keygen(&d.join("rogue"), "越权签发机关", Some("440106"));
    let pudong = keygen(&d.join("pudong"), "上海市浦东新区商务委员会", Some("310115"));

    let gd_trust = d.join("gd-trust.toml");
    std::fs::write(&gd_trust, trust_entry(&huadu)).unwrap();
    let js_trust = d.join("js-trust.toml");
    std::fs::write(&js_trust, format!("{}\n{}", trust_entry(&kunshan), trust_entry(&rogue))).unwrap();
    let gd = Server::start_as(&d.join("gd-data"), &gd_key, Some(&gd_trust), &[]);
    let sh_trust = d.join("sh-trust.toml");
    std::fs::write(&sh_trust, trust_entry(&pudong)).unwrap();
    let sh = Server::start_as(&d.join("sh-data"), &sh_key, Some(&sh_trust), &[]);
    let js = Server::start_as(&d.join("js-data"), &js_key, Some(&js_trust), &[]);

    let gd_url = gd.url.clone();
    let entries = |version| {
        list_toml(
            version,
            &[
                ("广东省", gd_key.as_path(), "440000", gd_url.as_str()),
                ("上海市", sh_key.as_path(), "310000", sh.url.as_str()),
                ("江苏省", js_key.as_path(), "320000", js.url.as_str()),
            ],
        )
    };
    let list_v1 = d.join("authorities-v1.signed");
    sign_list(&root_key, &entries(1), &list_v1);

    let huadu_pass = issue(&huadu, "粤A12345", "440114", &["440114", "310000"]);
    let kunshan_pass = issue(&kunshan, "苏E54321", "320583", &["320583", "310000"]);
    let rogue_pass = issue(&rogue, "粤A99999", "440106", &["310000"]);
    let pudong_pass = issue(&pudong, "沪D10001", "310115", &["310115"]);

    // The mirror, and nginx serving it as static files.
    let out = d.join("mirror");
    let root_pub = root_key.with_extension("pub");
    let run = mirror(&root_pub, &list_v1, &out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let Some(nginx) = Nginx::start(
        "three_authorities_one_mirror_behind_nginx",
        d,
        "docs/nginx-static.conf",
        &[("@ROOT@", out.to_str().unwrap())],
    ) else {
        return;
    };
    let mirror_url = nginx.url();

    // The Shanghai checkpoint: a [root] trust file, nothing else.
    let cp = Checkpoint::rooted(d, &root_key, "checkpoint-state.bin");
    // Never synced: a pass is unknown, and the checkpoint says from whom no data came yet.
    let never = cp.scan(&huadu_pass);
    assert_eq!(never["reason"], "unknown_issuer", "{never}");
    let run = cp.sync(&[&mirror_url]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("authority list version 1"), "{}", run.stdout);
    assert!(
        run.stdout.contains("warning: issuer_outside_authority: 越权签发机关 (440106) is not in 江苏省's provinces"),
        "{}",
        run.stdout
    );
    assert_eq!(cp.verdict(&huadu_pass), ("accepted".into(), String::new()));
    assert_eq!(cp.verdict(&kunshan_pass), ("accepted".into(), String::new()));
    assert_eq!(cp.verdict(&pudong_pass), ("accepted".into(), String::new()));
    // Jiangsu's list names an office at home in Guangzhou: refused, the rest of the list kept.
    assert_eq!(cp.verdict(&rogue_pass).1, "unknown_issuer");
    let status = cp.status();
    for name in ["广东省", "上海市", "江苏省"] {
        assert!(status.contains(&format!("Revocation data {name}: version")), "{status}");
    }
    assert!(status.contains("issuer_outside_authority: 越权签发机关 (440106)"), "{status}");

    // Up to date: one sync is one request (the combined heartbeats, which name the list held).
    let run = cp.sync(&[&mirror_url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("; 1 HTTP request,"), "{}", run.stdout);

    // Jiangsu revokes a Kunshan pass on its own server; the mirror copies it; the checkpoint
    // syncs from the mirror only and rejects the pass.
    let admin = js.token(&["--admin"]);
    let kunshan_id = public(&kunshan).id();
    let body = format!("{{\"key_id\":\"{kunshan_id}\",\"serials\":[1],\"reason\":\"车辆已售\"}}");
    let (status_code, answer) = http(&js.url, "POST", "/v1/revocations", Some(&admin), Some(&body));
    assert_eq!(status_code, 200, "{answer}");
    let run = mirror(&root_pub, &list_v1, &out);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = cp.sync(&[&mirror_url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains(&format!("from {mirror_url}/authorities/")), "{}", run.stdout);
    assert_eq!(cp.verdict(&kunshan_pass), ("rejected".into(), "revoked".into()));

    // Jiangsu revokes again, and the mirror withholds it (it does not copy the new version, and
    // its combined file still calls the old one current). Given Jiangsu's own server as well,
    // the checkpoint asks it, whatever the mirror says, and takes the revocation (N5).
    let body = format!("{{\"key_id\":\"{kunshan_id}\",\"serials\":[5],\"reason\":\"车辆已售\"}}");
    assert_eq!(http(&js.url, "POST", "/v1/revocations", Some(&admin), Some(&body)).0, 200);
    let run = cp.sync(&[&mirror_url]);
    assert!(
        run.stdout.contains("江苏省: version 1 → 1 from combined heartbeat"),
        "the mirror alone withholds it: {}",
        run.stdout
    );
    let run = cp.sync(&[&mirror_url, &js.url]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(&format!("江苏省: version 1 → 2 from {};", js.url)), "{}", run.stdout);

    // Guangdong's server stops: the mirror keeps its copy, and the checkpoint stays fresh.
    drop(gd);
    let run = mirror(&root_pub, &list_v1, &out);
    assert_ne!(run.code, 0, "the mirror says what it could not refresh");
    assert!(run.stderr.contains("warning: 广东省: keeping version"), "{}", run.stderr);
    let run = cp.sync(&[&mirror_url]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let verdict = cp.scan(&huadu_pass);
    assert_eq!(verdict["verdict"], "accepted", "{verdict}");
    assert!(verdict["warnings"].as_array().unwrap().is_empty(), "fresh: {verdict}");

    // A forged list (signed by an authority's key, not the root's) on the mirror: refused,
    // the last good list kept, passes still checked.
    let forged = d.join("forged.signed");
    sign_list(&js_key, &entries(5), &forged);
    serve_list(&out, &forged, 5);
    let run = cp.sync(&[&mirror_url]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("authority list refused"), "{}", run.stderr);
    assert!(cp.status().contains("authority list version 1"));
    assert_eq!(cp.verdict(&huadu_pass).0, "accepted");

    // Version 2, then version 1 again (a rollback): refused.
    let list_v2 = d.join("authorities-v2.signed");
    sign_list(&root_key, &entries(2), &list_v2);
    serve_list(&out, &list_v2, 2);
    cp.sync(&[&mirror_url]);
    assert!(cp.status().contains("authority list version 2"), "{}", cp.status());
    serve_list(&out, &list_v1, 1);
    let run = cp.sync(&[&mirror_url]);
    assert!(run.stderr.contains("older than the version held"), "{}", run.stderr);
    assert!(cp.status().contains("authority list version 2"));

    // The mirror serves tampered documents for Jiangsu (after a new revocation): the checkpoint
    // refuses them and fetches from Jiangsu's own server instead.
    serve_list(&out, &list_v2, 2);
    let js_dir = out.join("authorities").join(public(&js_key).id().to_string()).join("v1");
    // Jiangsu's version 1, kept to put back later as an older document.
    let older_snapshot = std::fs::read(js_dir.join("revocations")).unwrap();
    let body = format!("{{\"key_id\":\"{kunshan_id}\",\"serials\":[7],\"reason\":\"换驾驶员\"}}");
    assert_eq!(http(&js.url, "POST", "/v1/revocations", Some(&admin), Some(&body)).0, 200);
    let _ = mirror(&root_pub, &list_v2, &out);
    for file in
        std::fs::read_dir(js_dir.join("delta")).unwrap().flatten().map(|e| e.path()).chain([js_dir.join("revocations")])
    {
        let mut bytes = std::fs::read(&file).unwrap();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x40;
        std::fs::write(&file, bytes).unwrap();
    }
    let run = cp.sync(&[&mirror_url]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(&format!("江苏省: version 2 → 3 from {}", js.url)), "{}", run.stdout);
    // A second mirror copying from the first refuses its tampered documents and takes
    // Jiangsu's own server instead.
    let out2 = d.join("mirror2");
    let second = |list: &Path| {
        server(&[
            "mirror",
            "--root",
            root_pub.to_str().unwrap(),
            "--authorities",
            list.to_str().unwrap(),
            "--from",
            &mirror_url,
            "--out",
            out2.to_str().unwrap(),
        ])
    };
    let run = second(&list_v2);
    assert!(run.stderr.contains(&format!("江苏省: version 3 from {}", js.url)), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("上海市: version 0 from {mirror_url}/authorities/")), "{}", run.stderr);
    // An older snapshot put back on the first mirror: the second mirror never takes it, and
    // a checkpoint changes nothing it holds.
    std::fs::write(js_dir.join("revocations"), &older_snapshot).unwrap();
    let run = second(&list_v2);
    assert!(run.stderr.contains(&format!("江苏省: version 3 from {}", js.url)), "{}", run.stderr);
    let run = cp.sync(&[&mirror_url]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(cp.status().contains("Revocation data 江苏省: version 3"), "{}", cp.status());
    assert_eq!(cp.verdict(&kunshan_pass), ("rejected".into(), "revoked".into()));

    // A station in root mode syncing from the mirror in the background (its first round at
    // start): its verdicts use each pass's own authority's data.
    let station_state = d.join("station-state.bin");
    let station = crate::station::start_station(&[
        "--trust",
        cp.trust.to_str().unwrap(),
        "--state",
        station_state.to_str().unwrap(),
        "--zone",
        "310115",
        "--sync",
        &mirror_url,
        "--every",
        "30s",
    ]);
    let text = |png: &Path| std::fs::read_to_string(png.with_extension("txt")).unwrap();
    let mut socket = station.connect();
    let answer = crate::util::wait_for("the station's first sync", std::time::Duration::from_secs(30), || {
        let answer = socket.check_text(&text(&kunshan_pass));
        (answer["verdict"]["reason"] == "revoked").then_some(answer)
    });
    assert_eq!(answer["verdict"]["verdict"], "rejected", "{answer}");
    let huadu_answer = socket.check_text(&text(&huadu_pass));
    assert_eq!(huadu_answer["verdict"]["verdict"], "accepted", "{huadu_answer}");
    drop((socket, station));

    // A checkpoint with no network takes the same files from a USB stick, one by one: the
    // list first (nothing else is taken before it), then Guangdong's documents, checked with
    // Guangdong's key from the list; a document signed by a key the list does not name is refused.
    let usb = Checkpoint { trust: cp.trust.clone(), state: d.join("usb-state.bin") };
    let import = |file: &Path| {
        verifier(&[
            "import",
            file.to_str().unwrap(),
            "--trust",
            usb.trust.to_str().unwrap(),
            "--state",
            usb.state.to_str().unwrap(),
        ])
    };
    let gd_dir = out.join("authorities").join(public(&gd_key).id().to_string()).join("v1");
    let refused = import(&gd_dir.join("revocations"));
    assert_ne!(refused.code, 0);
    assert!(refused.stderr.contains("import the root's list first"), "{}", refused.stderr);
    assert_eq!(import(&out.join("v1/authorities")).code, 0);
    // The list alone: a Guangdong pass is from an authority no data has come from yet.
    let nothing_yet = usb.scan(&huadu_pass);
    assert_eq!(nothing_yet["reason"], "unknown_issuer", "{nothing_yet}");
    let detail = nothing_yet["detail"].as_str().unwrap_or("");
    assert!(detail.contains("no data from") && detail.contains("广东省") && detail.ends_with("yet"), "{detail}");
    for file in [gd_dir.join("trust"), gd_dir.join("revocations"), gd_dir.join("heartbeat")] {
        let run = import(&file);
        assert_eq!(run.code, 0, "{}: {}", file.display(), run.stderr);
    }
    assert_eq!(usb.verdict(&huadu_pass).0, "accepted");
    let stray = d.join("stray.signed");
    sign_list(&rogue, &entries(9), &stray);
    let foreign = import(&stray);
    assert_ne!(foreign.code, 0, "a list signed by an office's key");
    let mut not_listed = std::fs::read(gd_dir.join("heartbeat")).unwrap();
    not_listed[4..12].copy_from_slice(&public(&rogue).id().0);
    std::fs::write(d.join("not-listed.bin"), &not_listed).unwrap();
    let run = import(&d.join("not-listed.bin"));
    assert!(run.stderr.contains("which the root's authority list does not name"), "{}", run.stderr);
    assert!(usb.status().contains("Revocation data 广东省: version"), "{}", usb.status());

    // Stale data is named: with a limit of one second, two seconds on, the verdict says whose.
    std::thread::sleep(std::time::Duration::from_secs(2));
    let stale = cp.scan_with(&huadu_pass, &["--max-age", "1s"]);
    assert!(stale.stdout.contains("revocation_data_stale: 广东省 last confirmed"), "{}", stale.stdout);

    // Jiangsu is removed from the list: its passes are no longer trusted.
    let list_v3 = d.join("authorities-v3.signed");
    let without_js = list_toml(
        3,
        &[
            ("广东省", gd_key.as_path(), "440000", "http://127.0.0.1:9/"),
            ("上海市", sh_key.as_path(), "310000", sh.url.as_str()),
        ],
    );
    sign_list(&root_key, &without_js, &list_v3);
    let _ = mirror(&root_pub, &list_v3, &out);
    let run = cp.sync(&[&mirror_url]);
    assert!(run.stdout.contains("is no longer in the root's list"), "{}", run.stdout);
    let verdict = cp.scan(&kunshan_pass);
    assert_eq!(verdict["reason"], "unknown_issuer", "{verdict}");
    assert_eq!(cp.verdict(&huadu_pass).0, "accepted");
    drop((sh, js, nginx));
}

/// A single authority's checkpoint (the existing `[authority]` setup) syncing through nginx as
/// a caching proxy in front of `pass-server` (docs/nginx-cache.conf), and from the files
/// `pass-server serve --publish` writes, served by nginx as static files
/// (docs/nginx-static.conf). With `pass-server` stopped, the cache keeps answering.
#[test]
fn a_caching_proxy_and_published_files_carry_one_authority() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let published = d.join("published");
    let example = crate::util::root().join("keys-example");
    let authority_server = Server::start_as(
        &d.join("data"),
        &example.join("authority.key"),
        Some(&example.join("trust.toml")),
        &["--publish", published.to_str().unwrap()],
    );
    let cache_dir = d.join("cache");
    std::fs::create_dir_all(&cache_dir).unwrap();
    let upstream = authority_server.url.trim_start_matches("http://").to_owned();
    let Some(cache) = Nginx::start(
        "a_caching_proxy_and_published_files_carry_one_authority",
        &cache_dir,
        "docs/nginx-cache.conf",
        &[("@UPSTREAM@", &upstream)],
    ) else {
        return;
    };
    let static_dir = d.join("static");
    std::fs::create_dir_all(&static_dir).unwrap();
    let Some(files) = Nginx::start(
        "a_caching_proxy_and_published_files_carry_one_authority",
        &static_dir,
        "docs/nginx-static.conf",
        &[("@ROOT@", published.to_str().unwrap())],
    ) else {
        return;
    };
    let (serial, bytes) = crate::util::issue_now(&d.join("issuer"), "粤A12345");
    let png = d.join("issuer/粤A12345.png");
    assert!(!bytes.is_empty());
    let trust = example.join("trust.toml");
    let check = |state: &Path| {
        crate::util::scan(&png, &trust, &["--state", state.to_str().unwrap(), "--zone", "440114"]).json()
    };
    let sync = |state: &Path, url: &str| {
        verifier(&["sync", "--server", url, "--trust", trust.to_str().unwrap(), "--state", state.to_str().unwrap()])
    };
    let via_cache = d.join("via-cache.bin");
    let via_files = d.join("via-files.bin");
    for (state, url) in [(&via_cache, cache.url()), (&via_files, files.url())] {
        let run = sync(state, &url);
        assert_eq!(run.code, 0, "{url}: {}{}", run.stdout, run.stderr);
        assert_eq!(check(state)["verdict"], "accepted");
    }
    // A revocation is posted through the cache to the server; both ways carry it.
    let admin = authority_server.token(&["--admin"]);
    let body = format!("{{\"key_id\":\"f3c3dcf66c87927e\",\"serials\":[{serial}],\"reason\":\"vehicle sold\"}}");
    let (code, answer) = http(&cache.url(), "POST", "/v1/revocations", Some(&admin), Some(&body));
    assert_eq!(code, 200, "{answer}");
    // The cache keeps answers 5 s: wait that out, as a checkpoint's next round would.
    std::thread::sleep(std::time::Duration::from_secs(6));
    for (state, url) in [(&via_cache, cache.url()), (&via_files, files.url())] {
        let run = sync(state, &url);
        assert_eq!(run.code, 0, "{url}: {}{}", run.stdout, run.stderr);
        let verdict = check(state);
        assert_eq!(
            (verdict["verdict"].as_str(), verdict["reason"].as_str()),
            (Some("rejected"), Some("revoked")),
            "{url} (cache {}, files {}): {}{}: {verdict}",
            cache.url(),
            files.url(),
            run.stdout,
            run.stderr
        );
    }
    // The published snapshot itself holds the revocation, signed by the authority.
    let authority =
        pass_core::keys::PublicKeyFile::parse(&std::fs::read_to_string(example.join("authority.pub")).unwrap())
            .unwrap()
            .1;
    let mut published_state = pass_core::revocation::RevocationState::default();
    published_state.apply_document(&std::fs::read(published.join("v1/revocations")).unwrap(), &authority).unwrap();
    assert!(published_state.is_revoked("f3c3dcf66c87927e".parse().unwrap(), serial), "the published snapshot");
    // An up-to-date round (what thousands of checkpoints ask, so the cache holds it); then the
    // server stops: the cache still answers (stale but signed), and the sync succeeds.
    assert_eq!(sync(&via_cache, &cache.url()).code, 0);
    drop(authority_server);
    std::thread::sleep(std::time::Duration::from_secs(6));
    let run = sync(&via_cache, &cache.url());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(check(&via_cache)["reason"], "revoked");
    // With the server stopped, `pass-server publish` writes the same documents once, with a
    // heartbeat signed now; the files' checkpoint takes it.
    let run = server(&[
        "publish",
        "--out",
        published.to_str().unwrap(),
        "--data",
        d.join("data").to_str().unwrap(),
        "--authority-key",
        example.join("authority.key").to_str().unwrap(),
        "--trust",
        example.join("trust.toml").to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = sync(&via_files, &files.url());
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("confirmed current as of"), "{}", run.stdout);
    assert_eq!(check(&via_files)["reason"], "revoked");
}

/// A root-mode checkpoint given only an authority's own `pass-server` (started with
/// `--authorities`, so it serves the root's list at /v1/authorities): it takes the list from
/// it, then that authority's documents from the URL the list gives, and accepts its pass.
#[test]
fn an_authoritys_own_server_serves_the_root_list() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let example = crate::util::root().join("keys-example");
    let root_key = keygen(&d.join("root"), "国家通行证根", None);
    // The example authority governs Guangdong (its issuer's home is 440114), at a port picked
    // now so the list can name it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}");
    let list = d.join("authorities.signed");
    sign_list(&root_key, &list_toml(1, &[("广东省", &example.join("authority.key"), "440000", &url)]), &list);
    let mut child = crate::util::command("pass-server")
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--data"])
        .arg(d.join("data"))
        .arg("--authority-key")
        .arg(example.join("authority.key"))
        .arg("--trust")
        .arg(example.join("trust.toml"))
        .arg("--authorities")
        .arg(&list)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _server = Kill(child);
    assert!(line.contains(&url), "{line}");
    let (status, _) = http(&url, "GET", "/v1/authorities", None, None);
    assert_eq!(status, 200);

    let cp = Checkpoint::rooted(d, &root_key, "state.bin");
    let run = cp.sync(&[&url]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains(&format!("广东省: version 0 → 0 from {url}")), "{}", run.stdout);
    let (serial, _) = crate::util::issue_now(&d.join("issuer"), "粤A12345");
    let png = d.join("issuer/粤A12345.png");
    let verdict = cp.scan(&png);
    assert_eq!(verdict["verdict"], "accepted", "{verdict}");
    // Up to date: the list answers 304 to its version's ETag, and nothing else changed.
    let run = cp.sync(&[&url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    // A revocation between two syncs (RS): the next sync must fetch it from the server, never
    // call the heartbeat it already holds current (the server serves no combined file).
    let admin = server(&["token", "add", "--data", d.join("data").to_str().unwrap(), "--admin"]);
    let admin = admin.stdout.lines().last().unwrap().to_owned();
    let body = format!("{{\"key_id\":\"f3c3dcf66c87927e\",\"serials\":[{serial}],\"reason\":\"vehicle sold\"}}");
    let (code, answer) = http(&url, "POST", "/v1/revocations", Some(&admin), Some(&body));
    assert_eq!(code, 200, "{answer}");
    let run = cp.sync(&[&url]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("combined heartbeat"), "no combined file was served: {}", run.stdout);
    assert!(run.stdout.contains(&format!(" from {url};")), "fetched from the server itself: {}", run.stdout);
    assert_eq!(cp.verdict(&png), ("rejected".to_owned(), "revoked".to_owned()));
}

/// A root-mode checkpoint offline takes one file from a USB stick: `pass-server export` with the
/// root's list (`--authorities`), the trust list (`--trust`) and a heartbeat (`--authority-key`)
/// carries everything, so a Huadu pass is accepted from that import alone. Before, the export
/// had no trust list (the pass stayed `unknown_issuer`), and an authority's file imported before
/// the list was refused as "response body is truncated or unreadable".
#[test]
fn a_root_mode_checkpoint_takes_one_exported_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let example = crate::util::root().join("keys-example");
    let root_key = keygen(&d.join("root"), "国家通行证根", None);
    let list = d.join("authorities.signed");
    let entries = [("广东省", example.join("authority.key"), "440000", "http://127.0.0.1:9/")];
    let entries: Vec<_> = entries.iter().map(|(n, k, p, u)| (*n, k.as_path(), *p, *u)).collect();
    sign_list(&root_key, &list_toml(1, &entries), &list);
    let authority = Server::start(&d.join("data"));
    drop(authority);
    let (data, key, trust) = (d.join("data"), example.join("authority.key"), example.join("trust.toml"));
    let cp = Checkpoint::rooted(d, &root_key, "state.bin");
    let import = |file: &Path| {
        verifier(&[
            "import",
            file.to_str().unwrap(),
            "--trust",
            cp.trust.to_str().unwrap(),
            "--state",
            cp.state.to_str().unwrap(),
        ])
    };
    // The authority's own export, without the list: refused with what to do.
    let bare = d.join("bare.bin");
    let run = server(&[
        "export",
        "--data",
        data.to_str().unwrap(),
        "--out",
        bare.to_str().unwrap(),
        "--authority-key",
        key.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = import(&bare);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(run.stderr.contains("import the root's list first") && !run.stderr.contains("truncated"), "{}", run.stderr);
    assert!(cp.status().contains("0 trusted issuers: sync, or import the root's authority list"), "a hint");
    // Everything in one file.
    let stick = d.join("stick.bin");
    #[rustfmt::skip]
    let run = server(&[
        "export", "--data", data.to_str().unwrap(), "--out", stick.to_str().unwrap(), "--authority-key", key.to_str().unwrap(),
        "--trust", trust.to_str().unwrap(), "--authorities", list.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("the root's authority list, snapshot, trust list, heartbeat"), "{}", run.stderr);
    let run = import(&stick);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(cp.status().contains("1 trusted issuers"), "{}", cp.status());
    crate::util::issue_now(&d.join("issuer"), "粤A12345");
    let verdict = cp.scan(&d.join("issuer/粤A12345.png"));
    assert_eq!(verdict["verdict"], "accepted", "{verdict}");
}

/// N4, end to end: Jiangsu lists Guangdong's Huadu office key as its own (division 320583),
/// and the root's list names Jiangsu first. Guangdong revokes a Huadu pass on its own server.
/// A Shanghai checkpoint syncing from both servers must not take Jiangsu's word for Huadu: the
/// key is refused for both authorities, with a warning naming both, and the pass is REJECTED
/// (before: ACCEPTED, numbered 320583000001 and checked against Jiangsu's revocations).
#[test]
fn one_province_cannot_take_over_anothers_office() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let root_key = keygen(&d.join("root"), "国家通行证根", None);
    let gd_key = keygen(&d.join("gd"), "广东省交通运输厅", None);
    let js_key = keygen(&d.join("js"), "江苏省交通运输厅", None);
    let huadu = keygen(&d.join("huadu"), "广州市花都区工业和信息化局", Some("440114"));
    let gd_trust = d.join("gd-trust.toml");
    std::fs::write(&gd_trust, trust_entry(&huadu)).unwrap();
    // Jiangsu's entry for Guangdong's key, under a Jiangsu division.
    let run = issuer(&["trust-entry", "--key", huadu.to_str().unwrap(), "--division", "320583"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let js_trust = d.join("js-trust.toml");
    std::fs::write(&js_trust, run.stdout).unwrap();
    let gd = Server::start_as(&d.join("gd-data"), &gd_key, Some(&gd_trust), &[]);
    let js = Server::start_as(&d.join("js-data"), &js_key, Some(&js_trust), &[]);
    let list = d.join("authorities.signed");
    let entries = [
        ("江苏省", js_key.as_path(), "320000", js.url.as_str()),
        ("广东省", gd_key.as_path(), "440000", gd.url.as_str()),
    ];
    sign_list(&root_key, &list_toml(1, &entries), &list);
    let huadu_pass = issue(&huadu, "粤A12345", "440114", &["440114", "310000"]);
    // Guangdong revokes it.
    let admin = gd.token(&["--admin"]);
    let body = format!("{{\"key_id\":\"{}\",\"serials\":[1],\"reason\":\"车辆已售\"}}", public(&huadu).id());
    assert_eq!(http(&gd.url, "POST", "/v1/revocations", Some(&admin), Some(&body)).0, 200);
    // The checkpoint takes the root's list from a file and syncs from both servers.
    let cp = Checkpoint::rooted(d, &root_key, "state.bin");
    let imported = verifier(&[
        "import",
        list.to_str().unwrap(),
        "--trust",
        cp.trust.to_str().unwrap(),
        "--state",
        cp.state.to_str().unwrap(),
    ]);
    assert_eq!(imported.code, 0, "{}", imported.stderr);
    let run = cp.sync(&[&js.url, &gd.url]);
    assert!(run.stdout.contains("issuer_claimed_twice") && run.stdout.contains("江苏省 and 广东省"), "{}", run.stdout);
    let verdict = cp.scan(&huadu_pass);
    assert_eq!(verdict["verdict"], "rejected", "{verdict}");
    assert!(cp.status().contains("issuer_claimed_twice"), "{}", cp.status());
}

/// N6: a mirror can keep serving an old root list (hiding an authority the root removed), but
/// not for long unseen: the root re-signs its list at least weekly, and a checkpoint whose list
/// is older than 14 days warns `authority_list_stale` on every verdict and in `status`.
#[test]
fn a_withheld_root_list_is_seen_within_fourteen_days() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let example = crate::util::root().join("keys-example");
    let root_key = keygen(&d.join("root"), "国家通行证根", None);
    let list = d.join("authorities.signed");
    sign_list(
        &root_key,
        &list_toml(1, &[("广东省", &example.join("authority.key"), "440000", "http://127.0.0.1:9/")]),
        &list,
    );
    let cp = Checkpoint::rooted(d, &root_key, "state.bin");
    let data = d.join("data");
    let server_run = Server::start(&data);
    drop(server_run);
    let stick = d.join("stick.bin");
    #[rustfmt::skip]
    let run = server(&[
        "export", "--data", data.to_str().unwrap(), "--out", stick.to_str().unwrap(),
        "--authority-key", example.join("authority.key").to_str().unwrap(),
        "--trust", example.join("trust.toml").to_str().unwrap(), "--authorities", list.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let run = verifier(&[
        "import",
        stick.to_str().unwrap(),
        "--trust",
        cp.trust.to_str().unwrap(),
        "--state",
        cp.state.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    crate::util::issue_now(&d.join("issuer"), "粤A12345");
    let png = d.join("issuer/粤A12345.png");
    let today = cp.scan(&png);
    assert_eq!(today["verdict"], "accepted", "{today}");
    assert!(!today.to_string().contains("authority_list_stale"), "{today}");
    // Fifteen days on, with nothing newer from the root: the list is called stale.
    #[rustfmt::skip]
    let later = crate::util::faked(&crate::util::bin("pass-verifier"), "+15d")
        .args(["scan", png.to_str().unwrap(), "--trust", cp.trust.to_str().unwrap(), "--state", cp.state.to_str().unwrap(), "--zone", "310115", "--json"])
        .output()
        .unwrap();
    let later = String::from_utf8_lossy(&later.stdout);
    assert!(later.contains("authority_list_stale"), "{later}");
    let status = crate::util::faked(&crate::util::bin("pass-verifier"), "+15d")
        .args(["status", "--trust", cp.trust.to_str().unwrap(), "--state", cp.state.to_str().unwrap()])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(status.contains("authority_list_stale: the root's list is"), "{status}");
}
