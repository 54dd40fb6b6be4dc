//! The console's own database (`office.sqlite` in the data directory): settings, accounts,
//! sessions, applications and the audit trail. Passes themselves live in the issuance ledger
//! (`ledger.sqlite`, pass-issuer's), which this database only refers to by serial.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

/// The schema, one step a version (`pass_files::migrate`).
const SCHEMA: [&str; 8] = ["CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        login TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'reviewer', 'clerk', 'enterprise')),
        password_hash TEXT NOT NULL,
        must_change INTEGER NOT NULL,
        org_name TEXT,
        org_code TEXT,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE sessions (
        id_hash BLOB PRIMARY KEY,
        account INTEGER NOT NULL REFERENCES accounts(id),
        csrf TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
    );
    CREATE TABLE applications (
        id INTEGER PRIMARY KEY,
        enterprise INTEGER NOT NULL REFERENCES accounts(id),
        entered_by INTEGER NOT NULL REFERENCES accounts(id),
        edited_by INTEGER NOT NULL REFERENCES accounts(id),
        state TEXT NOT NULL CHECK (state IN ('submitted', 'rejected', 'issued', 'printed')),
        submitted_at INTEGER NOT NULL,
        decided_by INTEGER REFERENCES accounts(id),
        decided_at INTEGER,
        reason TEXT,
        serials TEXT
    );
    CREATE INDEX applications_queue ON applications (state, submitted_at);
    CREATE TABLE vehicles (
        application INTEGER NOT NULL REFERENCES applications(id),
        position INTEGER NOT NULL,
        fields TEXT NOT NULL,
        plate TEXT NOT NULL,
        PRIMARY KEY (application, position)
    );
    CREATE INDEX vehicles_plate ON vehicles (plate);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;",
    // 2: phone e-passes: the driver's link, one per issued pass.
    "CREATE TABLE epasses (
        token TEXT PRIMARY KEY,
        application INTEGER NOT NULL REFERENCES applications(id),
        serial INTEGER NOT NULL UNIQUE,
        valid_until INTEGER NOT NULL
    );",
    // 3: an enterprise's requests to cancel a pass (vehicle sold, driver changed), for a
    // reviewer to confirm.
    "CREATE TABLE cancellations (
        serial INTEGER PRIMARY KEY,
        application INTEGER NOT NULL REFERENCES applications(id),
        reason TEXT NOT NULL,
        requested_by INTEGER NOT NULL REFERENCES accounts(id),
        requested_at INTEGER NOT NULL
    );",
    // 4: everyone who entered or edited an application since its last decision (four eyes:
    // none of them approves it), filled from what older releases kept.
    "CREATE TABLE editors (
        application INTEGER NOT NULL REFERENCES applications(id),
        account INTEGER NOT NULL REFERENCES accounts(id),
        PRIMARY KEY (application, account)
    );
    INSERT OR IGNORE INTO editors (application, account) SELECT id, entered_by FROM applications;
    INSERT OR IGNORE INTO editors (application, account) SELECT id, edited_by FROM applications;",
    // 5: an account an admin has disabled: it cannot log in, and its sessions are gone.
    "ALTER TABLE accounts ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;",
    // 6: who set an account up: the admin who made it or last gave it a one-time password
    // (they knew its password), or SERVER for accounts made on the server itself. Four eyes
    // hold across it: a reviewer set up by the same person as an account that entered an
    // application does not approve it. Filled from the audit trail for older accounts.
    "ALTER TABLE accounts ADD COLUMN set_up_by TEXT NOT NULL DEFAULT '(server)';
    UPDATE accounts SET set_up_by = COALESCE(
        (SELECT actor FROM audit WHERE action = 'account_created'
            AND detail = accounts.login || ' (' || accounts.role || ')' ORDER BY id DESC LIMIT 1),
        '(server)');",
    // 7: notices: an inbox for every account (approved, rejected, revoked, new in the queue),
    // each also queued as an e-mail to an account that gave an address; the queue keeps a
    // mail until the SMTP server takes it (retried, never lost).
    "ALTER TABLE accounts ADD COLUMN email TEXT;
    CREATE TABLE notices (
        id INTEGER PRIMARY KEY,
        account INTEGER NOT NULL REFERENCES accounts(id),
        at INTEGER NOT NULL,
        application INTEGER,
        text TEXT NOT NULL,
        read INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX notices_account ON notices (account, read);
    CREATE TABLE mails (
        id INTEGER PRIMARY KEY,
        to_address TEXT NOT NULL,
        subject TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_try INTEGER NOT NULL,
        sent_at INTEGER,
        last_error TEXT
    );
    CREATE INDEX mails_due ON mails (sent_at, next_try);",
    // 8: a vehicle's driver and co-drivers as one text, kept by triggers, for the lists'
    // search (reading them out of the JSON on every search cost 40 ms at 20,000 vehicles).
    "ALTER TABLE vehicles ADD COLUMN people TEXT NOT NULL DEFAULT '';
    UPDATE vehicles SET people =
        coalesce(json_extract(fields, '$.driver'), '') || ' ' || coalesce(json_extract(fields, '$.co_drivers'), '');
    CREATE TRIGGER vehicles_people_insert AFTER INSERT ON vehicles BEGIN
        UPDATE vehicles SET people =
            coalesce(json_extract(NEW.fields, '$.driver'), '') || ' ' || coalesce(json_extract(NEW.fields, '$.co_drivers'), '')
        WHERE application = NEW.application AND position = NEW.position;
    END;
    CREATE TRIGGER vehicles_people_update AFTER UPDATE OF fields ON vehicles BEGIN
        UPDATE vehicles SET people =
            coalesce(json_extract(NEW.fields, '$.driver'), '') || ' ' || coalesce(json_extract(NEW.fields, '$.co_drivers'), '')
        WHERE application = NEW.application AND position = NEW.position;
    END;",
];

/// Who set up the accounts made on the server itself (`init`, `pass-office admin add`).
pub const SERVER: &str = "(server)";

/// A role: what an account may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Accounts, office settings.
    Admin,
    /// Approves (which signs) and rejects.
    Reviewer,
    /// Enters applications for enterprises that walk in or phone.
    Clerk,
    /// One enterprise: its own applications and passes only.
    Enterprise,
}

impl Role {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
            Role::Clerk => "clerk",
            Role::Enterprise => "enterprise",
        }
    }

    /// The role with this stored name.
    pub fn from_name(name: &str) -> Option<Role> {
        [Role::Admin, Role::Reviewer, Role::Clerk, Role::Enterprise].into_iter().find(|r| r.name() == name)
    }

    /// The label shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "管理员 admin",
            Role::Reviewer => "审核人 reviewer",
            Role::Clerk => "窗口人员 clerk",
            Role::Enterprise => "企业 enterprise",
        }
    }
}

/// An account.
#[derive(Clone, Debug)]
pub struct Account {
    /// Row id.
    pub id: i64,
    /// Login name.
    pub login: String,
    /// Role.
    pub role: Role,
    /// The argon2id hash (PHC string).
    pub password_hash: String,
    /// Must change the password before anything else.
    pub must_change: bool,
    /// An enterprise's name (the holder on its passes).
    pub org_name: Option<String>,
    /// An enterprise's unified social credit code.
    pub org_code: Option<String>,
    /// Failed logins in a row.
    pub failed_logins: i64,
    /// Locked until this Unix time.
    pub locked_until: u64,
    /// Disabled by an admin: no login, no session.
    pub disabled: bool,
    /// Who knew its first password: the admin who made it or last reset it, or [`SERVER`].
    pub set_up_by: String,
    /// Where its notices are also e-mailed, if anywhere.
    pub email: Option<String>,
}

/// An application's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for a reviewer.
    Submitted,
    /// Rejected with a reason.
    Rejected,
    /// Approved and issued, the PDF not (yet) made: printing failed, retry.
    Issued,
    /// Issued and its PDF made and checked.
    Printed,
}

impl State {
    /// The stored name.
    pub fn name(self) -> &'static str {
        match self {
            State::Submitted => "submitted",
            State::Rejected => "rejected",
            State::Issued => "issued",
            State::Printed => "printed",
        }
    }

    fn from_name(name: &str) -> Option<State> {
        [State::Submitted, State::Rejected, State::Issued, State::Printed].into_iter().find(|s| s.name() == name)
    }

    /// The label shown to people.
    pub fn label(self) -> &'static str {
        match self {
            State::Submitted => "待审核 waiting for review",
            State::Rejected => "未通过 rejected",
            State::Issued => "已签发，待打印 issued, not printed",
            State::Printed => "已签发 issued",
        }
    }
}

/// An application: one enterprise's request for one or more vehicles.
#[derive(Clone, Debug)]
pub struct Application {
    /// Row id.
    pub id: i64,
    /// The enterprise account it is for.
    pub enterprise: i64,
    /// The enterprise's name.
    pub enterprise_name: String,
    /// Who entered it.
    pub entered_by: i64,
    /// Who last edited it.
    pub edited_by: i64,
    /// State.
    pub state: State,
    /// When it was submitted.
    pub submitted_at: u64,
    /// Who approved or rejected it, and when.
    pub decided: Option<(String, u64)>,
    /// The reason of a rejection.
    pub reason: Option<String>,
    /// The serials issued, in vehicle order.
    pub serials: Vec<u64>,
    /// Each vehicle's fields, by column name (as the CSV import reads them).
    pub vehicles: Vec<std::collections::BTreeMap<String, String>>,
}

/// Creates the schema in a new database, or checks an existing one's version.
pub fn migrate(conn: &Connection) -> Result<(), pass_files::MigrateError> {
    pass_files::migrate(conn, &SCHEMA)
}

/// A setting.
pub fn setting(conn: &Connection, name: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row("SELECT value FROM settings WHERE name = ?1", [name], |r| r.get(0)).optional()
}

/// Sets a setting.
pub fn set_setting(conn: &Connection, name: &str, value: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO settings (name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = ?2",
        params![name, value],
    )?;
    Ok(())
}

/// A stored name this program does not know.
fn unknown(column: usize, what: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        column,
        rusqlite::types::Type::Text,
        format!("unknown {what}: a damaged row, or one a newer release wrote").into(),
    )
}

fn account_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: r.get(0)?,
        login: r.get(1)?,
        // Fail closed: a role this program does not know (a damaged or newer row) is an error,
        // never read as some role.
        role: Role::from_name(&r.get::<_, String>(2)?).ok_or_else(|| unknown(2, "role"))?,
        password_hash: r.get(3)?,
        must_change: r.get::<_, i64>(4)? != 0,
        org_name: r.get(5)?,
        org_code: r.get(6)?,
        failed_logins: r.get(7)?,
        locked_until: r.get::<_, i64>(8)?.max(0) as u64,
        disabled: r.get::<_, i64>(9)? != 0,
        set_up_by: r.get(10)?,
        email: r.get(11)?,
    })
}

const ACCOUNT_COLUMNS: &str = "id, login, role, password_hash, must_change, org_name, org_code, failed_logins, locked_until, disabled, set_up_by, email";

/// The account with this login.
pub fn account_by_login(conn: &Connection, login: &str) -> rusqlite::Result<Option<Account>> {
    conn.query_row(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE login = ?1"), [login], account_row).optional()
}

/// The account with this id.
pub fn account(conn: &Connection, id: i64) -> rusqlite::Result<Option<Account>> {
    conn.query_row(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"), [id], account_row).optional()
}

/// Every account, by login.
pub fn accounts(conn: &Connection) -> rusqlite::Result<Vec<Account>> {
    let mut statement = conn.prepare(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY login"))?;
    statement.query_map([], account_row)?.collect()
}

/// A new account; its id.
#[allow(clippy::too_many_arguments)]
pub fn create_account(
    tx: &Transaction<'_>,
    login: &str,
    role: Role,
    password_hash: &str,
    must_change: bool,
    org: Option<(&str, Option<&str>)>,
    set_up_by: &str,
    now: u64,
) -> rusqlite::Result<i64> {
    tx.execute(
        "INSERT INTO accounts (login, role, password_hash, must_change, org_name, org_code, created_at, set_up_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            login,
            role.name(),
            password_hash,
            must_change,
            org.map(|o| o.0),
            org.and_then(|o| o.1),
            now as i64,
            set_up_by
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// Lifts an account's lockout (its failed logins forgotten).
pub fn unlock(tx: &Transaction<'_>, id: i64) -> rusqlite::Result<()> {
    tx.execute("UPDATE accounts SET failed_logins = 0, locked_until = 0 WHERE id = ?1", [id])?;
    Ok(())
}

/// Gives an account a new one-time password set by `set_up_by`: it must change it at the next
/// login, its lockout is lifted and its sessions end.
pub fn reset_password(tx: &Transaction<'_>, id: i64, password_hash: &str, set_up_by: &str) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE accounts SET password_hash = ?2, must_change = 1, failed_logins = 0, locked_until = 0, set_up_by = ?3
         WHERE id = ?1",
        params![id, password_hash, set_up_by],
    )?;
    tx.execute("DELETE FROM sessions WHERE account = ?1", [id])?;
    Ok(())
}

/// Appends one row to the audit trail: who, when, what, chained to the row before by its hash.
pub fn audit(tx: &Transaction<'_>, at: u64, actor: &str, action: &str, detail: &str) -> rusqlite::Result<()> {
    let prev: String = tx
        .query_row("SELECT hash FROM audit ORDER BY id DESC LIMIT 1", [], |r| r.get(0))
        .optional()?
        .unwrap_or_else(|| pass_core::audit::GENESIS.to_owned());
    let hash = pass_core::audit::chain_hash(&prev, at, actor, action, detail);
    tx.execute(
        "INSERT INTO audit (at, actor, action, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![at as i64, actor, action, detail, prev, hash],
    )?;
    tx.execute(
        "INSERT INTO settings (name, value) VALUES ('audit_head', ?1) ON CONFLICT(name) DO UPDATE SET value = ?1",
        [format!("{}:{hash}", tx.last_insert_rowid())],
    )?;
    // Marks the row as this connection's own (a console's connection has the table).
    if tx.query_row("SELECT count(*) FROM temp.sqlite_master WHERE name = 'audit_mine'", [], |r| r.get::<_, i64>(0))?
        > 0
    {
        tx.execute("INSERT INTO temp.audit_mine (id) SELECT id FROM audit ORDER BY id DESC LIMIT 1", [])?;
    }
    Ok(())
}

/// One audit row as `audit export --csv` writes it: every text cell through `csv_cell`, so a
/// login or detail a spreadsheet would run as a formula is shown as text.
#[derive(Debug, serde::Serialize)]
pub struct AuditRow {
    /// Row id.
    pub id: i64,
    /// When, RFC 3339 in Asia/Shanghai.
    pub at: String,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// Details.
    pub detail: String,
    /// The hash of the row before.
    pub prev_hash: String,
    /// This row's hash.
    pub hash: String,
}

/// Every audit row, oldest first, for export.
pub fn audit_rows(conn: &Connection) -> rusqlite::Result<Vec<AuditRow>> {
    let tz = pass_core::time::default_zone();
    let cell = |text: String| pass_core::view::csv_cell(&text).into_owned();
    let mut statement = conn.prepare("SELECT id, at, actor, action, detail, prev_hash, hash FROM audit ORDER BY id")?;
    let rows = statement.query_map([], |r| {
        Ok(AuditRow {
            id: r.get(0)?,
            at: pass_core::time::rfc3339(r.get::<_, i64>(1)?.max(0) as u64, &tz),
            actor: cell(r.get(2)?),
            action: cell(r.get(3)?),
            detail: cell(r.get(4)?),
            prev_hash: r.get(5)?,
            hash: r.get(6)?,
        })
    })?;
    rows.collect()
}

/// A row of `SELECT id, at, actor, action, detail, prev_hash, hash FROM audit`.
fn audit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<pass_core::audit::Row> {
    Ok(pass_core::audit::Row {
        id: r.get(0)?,
        at: r.get::<_, i64>(1)?.max(0) as u64,
        actor: r.get(2)?,
        action: r.get(3)?,
        detail: r.get(4)?,
        prev_hash: r.get(5)?,
        hash: r.get(6)?,
    })
}

/// Checks the trail against its recorded end and the signed heads in `anchors`
/// ([`pass_core::audit::check`]), reading the rows once.
pub fn verify_audit(
    conn: &Connection,
    anchors: &[pass_core::audit::Anchor],
    key: &pass_core::PublicKey,
) -> rusqlite::Result<pass_core::audit::Verdict> {
    let end = setting(conn, "audit_head")?;
    let mut statement = conn.prepare("SELECT id, at, actor, action, detail, prev_hash, hash FROM audit ORDER BY id")?;
    let rows = statement.query_map([], audit_row)?;
    pass_core::audit::check(rows, end.as_deref(), anchors, key)
}

fn application_row(conn: &Connection, r: &rusqlite::Row<'_>) -> rusqlite::Result<Application> {
    let id: i64 = r.get(0)?;
    let serials: Option<String> = r.get(9)?;
    let decided_by: Option<String> = r.get(7)?;
    let decided_at: Option<i64> = r.get(8)?;
    Ok(Application {
        id,
        enterprise: r.get(1)?,
        enterprise_name: r.get(2)?,
        entered_by: r.get(3)?,
        edited_by: r.get(4)?,
        // Likewise a state: never read as "waiting", which a reviewer could then approve.
        state: State::from_name(&r.get::<_, String>(5)?).ok_or_else(|| unknown(5, "application state"))?,
        submitted_at: r.get::<_, i64>(6)?.max(0) as u64,
        decided: decided_by.zip(decided_at.map(|t| t.max(0) as u64)),
        reason: r.get(10)?,
        serials: serials.map(|s| s.split(' ').filter_map(|n| n.parse().ok()).collect()).unwrap_or_default(),
        vehicles: vehicles(conn, id)?,
    })
}

const APPLICATION_QUERY: &str = "SELECT a.id, a.enterprise, e.org_name, a.entered_by, a.edited_by, a.state,
        a.submitted_at, d.login, a.decided_at, a.serials, a.reason
    FROM applications a JOIN accounts e ON e.id = a.enterprise LEFT JOIN accounts d ON d.id = a.decided_by";

fn vehicles(conn: &Connection, application: i64) -> rusqlite::Result<Vec<std::collections::BTreeMap<String, String>>> {
    let mut statement = conn.prepare_cached("SELECT fields FROM vehicles WHERE application = ?1 ORDER BY position")?;
    let rows = statement.query_map([application], |r| r.get::<_, String>(0))?;
    rows.map(|fields| Ok(serde_json::from_str(&fields?).unwrap_or_default())).collect()
}

/// The application with this id.
pub fn application(conn: &Connection, id: i64) -> rusqlite::Result<Option<Application>> {
    conn.query_row(&format!("{APPLICATION_QUERY} WHERE a.id = ?1"), [id], |r| application_row(conn, r)).optional()
}

/// A tab of the application lists: a state, or all of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Tab {
    /// Every application.
    #[default]
    All,
    /// Waiting for review.
    Waiting,
    /// Rejected, for the enterprise to correct.
    Rejected,
    /// Issued (printed or not).
    Issued,
}

impl Tab {
    /// Every tab, in the order shown.
    pub const ALL: [Tab; 4] = [Tab::Waiting, Tab::Rejected, Tab::Issued, Tab::All];

    /// The name in a URL (`?state=`).
    pub fn name(self) -> &'static str {
        match self {
            Tab::All => "all",
            Tab::Waiting => "submitted",
            Tab::Rejected => "rejected",
            Tab::Issued => "issued",
        }
    }

    /// The tab named `name` in a URL (anything else: all).
    pub fn from_name(name: &str) -> Tab {
        Tab::ALL.into_iter().find(|t| t.name() == name).unwrap_or(Tab::All)
    }

    /// What the tab says.
    pub fn label(self) -> &'static str {
        match self {
            Tab::All => "全部 All",
            Tab::Waiting => "待审核 Waiting",
            Tab::Rejected => "未通过 Rejected",
            Tab::Issued => "已签发 Issued",
        }
    }

    fn states(self) -> &'static [&'static str] {
        match self {
            Tab::All => &["submitted", "rejected", "issued", "printed"],
            Tab::Waiting => &["submitted"],
            Tab::Rejected => &["rejected"],
            Tab::Issued => &["issued", "printed"],
        }
    }
}

/// The order of a list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sort {
    /// The tab's own: the oldest first while waiting, else the newest first.
    #[default]
    Default,
    /// Newest first.
    Newest,
    /// Oldest first.
    Oldest,
    /// By enterprise name, then newest first.
    Enterprise,
}

impl Sort {
    /// Every order, as offered.
    pub const ALL: [Sort; 4] = [Sort::Default, Sort::Newest, Sort::Oldest, Sort::Enterprise];

    /// The name in a URL (`?sort=`).
    pub fn name(self) -> &'static str {
        match self {
            Sort::Default => "",
            Sort::Newest => "newest",
            Sort::Oldest => "oldest",
            Sort::Enterprise => "enterprise",
        }
    }

    /// The order named `name` in a URL.
    pub fn from_name(name: &str) -> Sort {
        Sort::ALL.into_iter().find(|s| s.name() == name).unwrap_or_default()
    }

    /// What the order says.
    pub fn label(self) -> &'static str {
        match self {
            Sort::Default => "默认 Default",
            Sort::Newest => "最新在前 Newest first",
            Sort::Oldest => "最早在前 Oldest first",
            Sort::Enterprise => "按企业 By enterprise",
        }
    }
}

/// Which applications a list shows.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only this enterprise's.
    pub enterprise: Option<i64>,
    /// The tab.
    pub tab: Tab,
    /// Only those matching this text: a plate, an enterprise's name, a driver or co-driver, or
    /// (digits) a pass number or serial. Taken literally (`%` and `_` are not wildcards, and
    /// the text is a bound parameter, never SQL).
    pub q: Option<String>,
    /// The order.
    pub sort: Sort,
    /// The page, from 1.
    pub page: usize,
}

/// Applications on one page of a list.
pub const PAGE_SIZE: usize = 50;

/// Longest search text, in characters.
pub const MAX_SEARCH_CHARS: usize = 40;

/// Finds the applications whose plate, enterprise name, driver or co-driver contains `q`
/// (literally: `%` and `_` are not wildcards, and the text is a bound parameter, never SQL),
/// or (digits) holding the pass with that serial or pass number, into the connection's own
/// temporary table `search_hits`: one scan, which the list's queries then join.
fn find(conn: &Connection, q: &str) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS search_hits (id INTEGER PRIMARY KEY); DELETE FROM temp.search_hits;",
    )?;
    let literal = q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    let like = format!("%{literal}%");
    // Digits: a serial, or a pass number (the office's division, then six digits).
    let serial: Option<i64> = (q.bytes().all(|b| b.is_ascii_digit()) && q.len() <= 18)
        .then(|| if q.len() >= 12 { &q[6..] } else { q })
        .and_then(|s| s.parse().ok());
    conn.execute(
        "INSERT OR IGNORE INTO temp.search_hits (id)
             SELECT application FROM vehicles WHERE plate LIKE ?1 ESCAPE '\\' OR people LIKE ?1 ESCAPE '\\'
             UNION SELECT a.id FROM applications a JOIN accounts e ON e.id = a.enterprise WHERE e.org_name LIKE ?1 ESCAPE '\\'
             UNION SELECT application FROM epasses WHERE serial = ?2",
        params![like, serial],
    )?;
    Ok(())
}

/// The WHERE clause of `filter` (with or without its tab) and its bound values; a search
/// reads the hits [`find`] left.
fn condition(filter: &Filter, with_tab: bool) -> (String, Vec<rusqlite::types::Value>) {
    let mut conditions = Vec::new();
    let mut values: Vec<rusqlite::types::Value> = Vec::new();
    if let Some(enterprise) = filter.enterprise {
        values.push(enterprise.into());
        conditions.push(format!("a.enterprise = ?{}", values.len()));
    }
    if with_tab && filter.tab != Tab::All {
        let states: Vec<String> = filter.tab.states().iter().map(|s| format!("'{s}'")).collect();
        conditions.push(format!("a.state IN ({})", states.join(", ")));
    }
    if search_text(filter).is_some() {
        conditions.push("a.id IN (SELECT id FROM temp.search_hits)".to_owned());
    }
    (if conditions.is_empty() { "1".to_owned() } else { conditions.join(" AND ") }, values)
}

fn search_text(filter: &Filter) -> Option<&str> {
    filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty())
}

/// One page of a list: its applications, how many match in all, and each tab's count.
#[derive(Debug)]
pub struct Listing {
    /// This page's applications ([`PAGE_SIZE`] at most).
    pub list: Vec<Application>,
    /// How many match the filter, its tab included.
    pub total: usize,
    /// How many each tab holds (the filter's search and enterprise, any tab).
    pub counts: Vec<(Tab, usize)>,
}

/// The applications `filter` asks for, a page at a time, with the counts.
pub fn applications(conn: &Connection, filter: &Filter) -> rusqlite::Result<Listing> {
    if let Some(q) = search_text(filter) {
        find(conn, q)?;
    }
    let (any_tab, values) = condition(filter, false);
    let mut statement = conn.prepare_cached(&format!(
        "SELECT a.state, count(*) FROM applications a JOIN accounts e ON e.id = a.enterprise WHERE {any_tab} GROUP BY a.state"
    ))?;
    let by_state: Vec<(String, i64)> = statement
        .query_map(rusqlite::params_from_iter(values.iter()), |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let counts: Vec<(Tab, usize)> = Tab::ALL
        .into_iter()
        .map(|tab| {
            let n: i64 = by_state.iter().filter(|(s, _)| tab.states().contains(&s.as_str())).map(|(_, n)| n).sum();
            (tab, n.max(0) as usize)
        })
        .collect();
    let total = counts.iter().find(|(tab, _)| *tab == filter.tab).map_or(0, |(_, n)| *n);
    let (condition, values) = condition(filter, true);
    let order = match (filter.sort, filter.tab) {
        (Sort::Default, Tab::Waiting) | (Sort::Oldest, _) => "a.submitted_at ASC, a.id ASC",
        (Sort::Enterprise, _) => "e.org_name ASC, a.submitted_at DESC, a.id DESC",
        _ => "a.submitted_at DESC, a.id DESC",
    };
    let offset = filter.page.max(1).saturating_sub(1).saturating_mul(PAGE_SIZE);
    let sql = format!("{APPLICATION_QUERY} WHERE {condition} ORDER BY {order} LIMIT {PAGE_SIZE} OFFSET {offset}");
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(rusqlite::params_from_iter(values), |r| application_row(conn, r))?;
    Ok(Listing { list: rows.collect::<Result<_, _>>()?, total, counts })
}

/// The serials the console issued (an enterprise's only, when given), each with its
/// application.
pub fn issued_serials(
    conn: &Connection,
    enterprise: Option<i64>,
) -> rusqlite::Result<std::collections::BTreeMap<u64, i64>> {
    let mut statement = conn.prepare_cached(
        "SELECT id, serials FROM applications WHERE serials IS NOT NULL AND (?1 IS NULL OR enterprise = ?1)",
    )?;
    let rows = statement.query_map([enterprise], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = std::collections::BTreeMap::new();
    for row in rows {
        let (id, serials) = row?;
        out.extend(serials.split(' ').filter_map(|s| s.parse().ok()).map(|serial| (serial, id)));
    }
    Ok(out)
}

/// Applications submitted or decided since `since`: enterprise name, submitted at, state,
/// decided at, passes issued.
#[allow(clippy::type_complexity)]
pub fn activity(conn: &Connection, since: u64) -> rusqlite::Result<Vec<(String, u64, State, Option<u64>, usize)>> {
    let mut statement = conn.prepare_cached(
        "SELECT e.org_name, a.submitted_at, a.state, a.decided_at, a.serials
         FROM applications a JOIN accounts e ON e.id = a.enterprise
         WHERE a.submitted_at >= ?1 OR a.decided_at >= ?1",
    )?;
    let rows = statement.query_map([since as i64], |r| {
        let state: String = r.get(2)?;
        let serials: Option<String> = r.get(4)?;
        Ok((
            r.get::<_, Option<String>>(0)?.unwrap_or_default(),
            r.get::<_, i64>(1)?.max(0) as u64,
            State::from_name(&state).ok_or_else(|| unknown(2, "state"))?,
            r.get::<_, Option<i64>>(3)?.map(|t| t.max(0) as u64),
            serials.map_or(0, |s| s.split(' ').filter(|s| !s.is_empty()).count()),
        ))
    })?;
    rows.collect()
}

/// One page of the audit trail, newest first, matching `q` (in the actor, action or detail,
/// literally), and how many rows match.
pub fn audit_page(
    conn: &Connection,
    q: Option<&str>,
    page: usize,
) -> rusqlite::Result<(Vec<pass_core::audit::Row>, usize)> {
    let like = q.map(|q| format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
    let condition =
        "(?1 IS NULL OR actor LIKE ?1 ESCAPE '\\' OR action LIKE ?1 ESCAPE '\\' OR detail LIKE ?1 ESCAPE '\\')";
    let total: i64 = conn.query_row(&format!("SELECT count(*) FROM audit WHERE {condition}"), [&like], |r| r.get(0))?;
    let offset = page.max(1).saturating_sub(1).saturating_mul(AUDIT_PAGE_SIZE);
    let mut statement = conn.prepare_cached(&format!(
        "SELECT id, at, actor, action, detail, prev_hash, hash FROM audit WHERE {condition}
         ORDER BY id DESC LIMIT {AUDIT_PAGE_SIZE} OFFSET {offset}"
    ))?;
    let rows = statement.query_map([&like], audit_row)?;
    Ok((rows.collect::<Result<_, _>>()?, total.max(0) as usize))
}

/// Audit rows on one page.
pub const AUDIT_PAGE_SIZE: usize = 100;

/// A pass an enterprise asked to cancel: which, why, when, and its vehicle.
#[derive(Clone, Debug)]
pub struct Cancellation {
    /// The pass's serial.
    pub serial: u64,
    /// Its application.
    pub application: i64,
    /// The enterprise's name.
    pub enterprise_name: String,
    /// The vehicle's plate.
    pub plate: String,
    /// Why.
    pub reason: String,
    /// When it was asked.
    pub requested_at: u64,
}

/// Every cancellation request, oldest first, one a pass.
pub fn cancellation_requests(conn: &Connection) -> rusqlite::Result<Vec<Cancellation>> {
    let mut statement = conn.prepare_cached(
        "SELECT c.serial, c.application, e.org_name, a.serials, c.reason, c.requested_at
         FROM cancellations c JOIN applications a ON a.id = c.application JOIN accounts e ON e.id = a.enterprise
         ORDER BY c.requested_at, c.serial",
    )?;
    let rows = statement.query_map([], |r| {
        let serial = r.get::<_, i64>(0)?.max(0) as u64;
        let application: i64 = r.get(1)?;
        let serials: Option<String> = r.get(3)?;
        let position = serials.unwrap_or_default().split(' ').position(|s| s.parse::<u64>().ok() == Some(serial));
        Ok((serial, application, r.get::<_, Option<String>>(2)?, position, r.get::<_, String>(4)?, r.get::<_, i64>(5)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (serial, application, enterprise_name, position, reason, at) = row?;
        let plate: Option<String> = match position {
            Some(position) => conn
                .query_row(
                    "SELECT plate FROM vehicles WHERE application = ?1 AND position = ?2",
                    params![application, position as i64],
                    |r| r.get(0),
                )
                .optional()?,
            None => None,
        };
        out.push(Cancellation {
            serial,
            application,
            enterprise_name: enterprise_name.unwrap_or_default(),
            plate: plate.unwrap_or_default(),
            reason,
            requested_at: at.max(0) as u64,
        });
    }
    Ok(out)
}

/// Records a new application with its vehicles; its id.
pub fn insert_application(
    tx: &Transaction<'_>,
    enterprise: i64,
    entered_by: i64,
    vehicles: &[std::collections::BTreeMap<String, String>],
    now: u64,
) -> rusqlite::Result<i64> {
    tx.execute(
        "INSERT INTO applications (enterprise, entered_by, edited_by, state, submitted_at) VALUES (?1, ?2, ?2, 'submitted', ?3)",
        params![enterprise, entered_by, now as i64],
    )?;
    let id = tx.last_insert_rowid();
    tx.execute("INSERT OR IGNORE INTO editors (application, account) VALUES (?1, ?2)", params![id, entered_by])?;
    for (position, fields) in vehicles.iter().enumerate() {
        let plate = fields.get("plate").cloned().unwrap_or_default();
        tx.execute(
            "INSERT INTO vehicles (application, position, fields, plate) VALUES (?1, ?2, ?3, ?4)",
            params![id, position as i64, serde_json::to_string(fields).unwrap_or_default(), plate],
        )?;
    }
    Ok(id)
}

/// Sets an application's state after a decision.
pub fn decide(
    tx: &Transaction<'_>,
    id: i64,
    state: State,
    by: i64,
    now: u64,
    reason: Option<&str>,
    serials: &[u64],
) -> rusqlite::Result<()> {
    let serials = (!serials.is_empty()).then(|| serials.iter().map(u64::to_string).collect::<Vec<_>>().join(" "));
    tx.execute(
        "UPDATE applications SET state = ?2, decided_by = ?3, decided_at = ?4, reason = ?5, serials = ?6 WHERE id = ?1",
        params![id, state.name(), by, now as i64, reason, serials],
    )?;
    // A decision starts the count of editors again.
    tx.execute("DELETE FROM editors WHERE application = ?1", [id])?;
    Ok(())
}

/// Everyone who entered or edited application `id` since its last decision.
pub fn editors(conn: &Connection, id: i64) -> rusqlite::Result<Vec<i64>> {
    let mut statement = conn.prepare_cached("SELECT account FROM editors WHERE application = ?1 ORDER BY account")?;
    statement.query_map([id], |r| r.get(0))?.collect()
}

/// Records the e-pass link of an issued pass.
pub fn insert_epass(
    tx: &Transaction<'_>,
    token: &str,
    application: i64,
    serial: u64,
    valid_until: u64,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO epasses (token, application, serial, valid_until) VALUES (?1, ?2, ?3, ?4)",
        params![token, application, serial as i64, valid_until as i64],
    )?;
    Ok(())
}

/// The e-pass a link's token names: its application, serial and expiry.
pub fn epass(conn: &Connection, token: &str) -> rusqlite::Result<Option<(i64, u64, u64)>> {
    conn.query_row("SELECT application, serial, valid_until FROM epasses WHERE token = ?1", [token], |r| {
        Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64, r.get::<_, i64>(2)?.max(0) as u64))
    })
    .optional()
}

/// An application's e-pass links: serial and token, in serial order.
pub fn epasses(conn: &Connection, application: i64) -> rusqlite::Result<Vec<(u64, String)>> {
    let mut statement = conn.prepare("SELECT serial, token FROM epasses WHERE application = ?1 ORDER BY serial")?;
    let rows = statement.query_map([application], |r| Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get(1)?)))?;
    rows.collect()
}

/// The review figures: applications waiting and the oldest's submission time, and the median
/// seconds from submission to issue of those issued since `today` and since `week`.
pub struct Figures {
    /// Applications waiting for review.
    pub waiting: u64,
    /// When the oldest waiting one was submitted.
    pub oldest: Option<u64>,
    /// Median seconds from submission to issue, issued since the start of today.
    pub median_today: Option<u64>,
    /// The same since the start of the week.
    pub median_week: Option<u64>,
}

/// The review figures (see [`Figures`]).
pub fn figures(conn: &Connection, today: u64, week: u64) -> rusqlite::Result<Figures> {
    let (waiting, oldest): (i64, Option<i64>) =
        conn.query_row("SELECT COUNT(*), MIN(submitted_at) FROM applications WHERE state = 'submitted'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let median = |since: u64| -> rusqlite::Result<Option<u64>> {
        let mut statement = conn.prepare_cached(
            "SELECT decided_at - submitted_at FROM applications
             WHERE state IN ('issued', 'printed') AND decided_at >= ?1 ORDER BY 1",
        )?;
        let times: Vec<i64> = statement.query_map([since as i64], |r| r.get(0))?.collect::<Result<_, _>>()?;
        Ok(times.get(times.len() / 2).map(|t| (*t).max(0) as u64))
    };
    Ok(Figures {
        waiting: waiting.max(0) as u64,
        oldest: oldest.map(|t| t.max(0) as u64),
        median_today: median(today)?,
        median_week: median(week)?,
    })
}

/// Records an enterprise's request to cancel `serial` (a repeated request keeps the first).
pub fn request_cancellation(
    tx: &Transaction<'_>,
    serial: u64,
    application: i64,
    reason: &str,
    by: i64,
    now: u64,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT OR IGNORE INTO cancellations (serial, application, reason, requested_by, requested_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![serial as i64, application, reason, by, now as i64],
    )?;
    Ok(())
}

/// The cancellation requests of an application: serial and reason.
pub fn cancellations(conn: &Connection, application: i64) -> rusqlite::Result<Vec<(u64, String)>> {
    let mut statement =
        conn.prepare("SELECT serial, reason FROM cancellations WHERE application = ?1 ORDER BY serial")?;
    let rows = statement.query_map([application], |r| Ok((r.get::<_, i64>(0)?.max(0) as u64, r.get(1)?)))?;
    rows.collect()
}

/// Forgets the cancellation request of `serial` (it was revoked).
pub fn cancellation_done(conn: &Connection, serial: u64) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM cancellations WHERE serial = ?1", [serial as i64])?;
    Ok(())
}

/// Replaces one vehicle of an application that is waiting or was rejected, and records who
/// edited it (the four-eyes rule reads it): a rejected application goes back to the queue.
/// `false`: the application is decided (or has no such vehicle) and nothing changed.
pub fn edit_vehicle(
    tx: &Transaction<'_>,
    id: i64,
    position: i64,
    fields: &std::collections::BTreeMap<String, String>,
    editor: i64,
) -> rusqlite::Result<bool> {
    let open = tx.execute(
        "UPDATE applications SET edited_by = ?2, state = 'submitted', decided_by = NULL, decided_at = NULL, reason = NULL
         WHERE id = ?1 AND state IN ('submitted', 'rejected')",
        params![id, editor],
    )?;
    if open == 0 {
        return Ok(false);
    }
    tx.execute("INSERT OR IGNORE INTO editors (application, account) VALUES (?1, ?2)", params![id, editor])?;
    let plate = fields.get("plate").cloned().unwrap_or_default();
    let changed = tx.execute(
        "UPDATE vehicles SET fields = ?3, plate = ?4 WHERE application = ?1 AND position = ?2",
        params![id, position, serde_json::to_string(fields).unwrap_or_default(), plate],
    )?;
    Ok(changed == 1)
}

/// Marks an issued application printed.
pub fn mark_printed(conn: &Connection, id: i64) -> rusqlite::Result<()> {
    conn.execute("UPDATE applications SET state = 'printed' WHERE id = ?1 AND state = 'issued'", [id])?;
    Ok(())
}

/// A stored login session (only the hash of its id is kept).
#[derive(Clone, Debug)]
pub struct StoredSession {
    /// The account logged in.
    pub account: i64,
    /// The session's CSRF token.
    pub csrf: String,
    /// When it was made.
    pub created_at: u64,
    /// Its last request.
    pub last_seen: u64,
}

/// The session whose id hashes to `id_hash`.
pub fn session(conn: &Connection, id_hash: &[u8]) -> rusqlite::Result<Option<StoredSession>> {
    conn.query_row("SELECT account, csrf, created_at, last_seen FROM sessions WHERE id_hash = ?1", [id_hash], |r| {
        Ok(StoredSession {
            account: r.get(0)?,
            csrf: r.get(1)?,
            created_at: r.get::<_, i64>(2)?.max(0) as u64,
            last_seen: r.get::<_, i64>(3)?.max(0) as u64,
        })
    })
    .optional()
}

/// A new session for `account`.
pub fn start_session(conn: &Connection, id_hash: &[u8], account: i64, csrf: &str, now: u64) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO sessions (id_hash, account, csrf, created_at, last_seen) VALUES (?1, ?2, ?3, ?4, ?4)",
        params![id_hash, account, csrf, now as i64],
    )?;
    Ok(())
}

/// Restarts a session's idle time.
pub fn touch_session(conn: &Connection, id_hash: &[u8], now: u64) -> rusqlite::Result<()> {
    conn.execute("UPDATE sessions SET last_seen = ?2 WHERE id_hash = ?1", params![id_hash, now as i64])?;
    Ok(())
}

/// Ends one session.
pub fn end_session(conn: &Connection, id_hash: &[u8]) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?;
    Ok(())
}

/// Ends every session of `account` but `keep`.
pub fn end_other_sessions(conn: &Connection, account: i64, keep: &[u8]) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM sessions WHERE account = ?1 AND id_hash != ?2", params![account, keep])?;
    Ok(())
}

/// Disables or enables an account; disabling ends every session of it.
pub fn set_disabled(tx: &Transaction<'_>, account: i64, disabled: bool) -> rusqlite::Result<()> {
    tx.execute("UPDATE accounts SET disabled = ?2 WHERE id = ?1", params![account, disabled])?;
    if disabled {
        tx.execute("DELETE FROM sessions WHERE account = ?1", [account])?;
    }
    Ok(())
}

/// Sets an account's password hash (and clears "must change").
pub fn set_password(conn: &Connection, account: i64, password_hash: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE accounts SET password_hash = ?2, must_change = 0 WHERE id = ?1",
        params![account, password_hash],
    )?;
    Ok(())
}

/// Counts one more failed login of `account` (in the database, so attempts decided at the same
/// time each count); at `max` the account is locked until `locked_until` and the count starts
/// again. Whether it is locked now.
pub fn note_failed_login(conn: &Connection, account: i64, max: i64, locked_until: u64) -> rusqlite::Result<bool> {
    conn.execute("UPDATE accounts SET failed_logins = failed_logins + 1 WHERE id = ?1", [account])?;
    let failed: i64 = conn.query_row("SELECT failed_logins FROM accounts WHERE id = ?1", [account], |r| r.get(0))?;
    if failed >= max {
        set_failed_logins(conn, account, 0, locked_until)?;
        return Ok(true);
    }
    Ok(false)
}

/// Sets an account's count of failed logins in a row and the time it is locked until (0: not).
pub fn set_failed_logins(conn: &Connection, account: i64, failed: i64, locked_until: u64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE accounts SET failed_logins = ?2, locked_until = ?3 WHERE id = ?1",
        params![account, failed, locked_until as i64],
    )?;
    Ok(())
}

/// One notice in an account's inbox.
#[derive(Clone, Debug)]
pub struct Notice {
    /// Row id.
    pub id: i64,
    /// When.
    pub at: u64,
    /// The application it is about.
    pub application: Option<i64>,
    /// What happened, in plain words.
    pub text: String,
    /// Read already.
    pub read: bool,
}

/// Tells `accounts` what happened (`text`, about `application`): a notice in each inbox and,
/// for each account with an e-mail address, a mail queued, in the caller's transaction (so a
/// decision and its notices are recorded together or not at all).
pub fn notify(
    tx: &Transaction<'_>,
    accounts: &[i64],
    application: Option<i64>,
    text: &str,
    now: u64,
) -> rusqlite::Result<()> {
    for account in accounts {
        tx.execute(
            "INSERT INTO notices (account, at, application, text) VALUES (?1, ?2, ?3, ?4)",
            params![account, now as i64, application, text],
        )?;
        let email: Option<String> = tx
            .query_row("SELECT email FROM accounts WHERE id = ?1 AND disabled = 0", [account], |r| r.get(0))
            .optional()?
            .flatten();
        if let Some(email) = email.filter(|e| !e.is_empty()) {
            let subject: String = text.chars().take(60).collect();
            let body = format!("{text}\r\n\r\n请登录通行证签发系统查看。 Log in to the pass office to see it.\r\n");
            tx.execute(
                "INSERT INTO mails (to_address, subject, body, created_at, next_try) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![email, format!("【通行证】{subject}"), body, now as i64],
            )?;
        }
    }
    Ok(())
}

/// The accounts that review (not disabled): who hears of new work.
pub fn reviewers(conn: &Connection) -> rusqlite::Result<Vec<i64>> {
    let mut statement = conn.prepare_cached("SELECT id FROM accounts WHERE role = 'reviewer' AND disabled = 0")?;
    statement.query_map([], |r| r.get(0))?.collect()
}

/// How many notices `account` has not read.
pub fn unread(conn: &Connection, account: i64) -> rusqlite::Result<usize> {
    conn.query_row("SELECT count(*) FROM notices WHERE account = ?1 AND read = 0", [account], |r| r.get::<_, i64>(0))
        .map(|n| n.max(0) as usize)
}

/// Most notices an inbox shows.
pub const INBOX_SIZE: usize = 100;

/// `account`'s newest notices.
pub fn notices(conn: &Connection, account: i64) -> rusqlite::Result<Vec<Notice>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT id, at, application, text, read FROM notices WHERE account = ?1 ORDER BY id DESC LIMIT {INBOX_SIZE}"
    ))?;
    let rows = statement.query_map([account], |r| {
        Ok(Notice {
            id: r.get(0)?,
            at: r.get::<_, i64>(1)?.max(0) as u64,
            application: r.get(2)?,
            text: r.get(3)?,
            read: r.get::<_, i64>(4)? != 0,
        })
    })?;
    rows.collect()
}

/// Marks all of `account`'s notices read.
pub fn mark_read(conn: &Connection, account: i64) -> rusqlite::Result<()> {
    conn.execute("UPDATE notices SET read = 1 WHERE account = ?1 AND read = 0", [account])?;
    Ok(())
}

/// Sets (or clears) where `account`'s notices are e-mailed.
pub fn set_email(tx: &Transaction<'_>, account: i64, email: Option<&str>) -> rusqlite::Result<()> {
    tx.execute("UPDATE accounts SET email = ?2 WHERE id = ?1", params![account, email])?;
    Ok(())
}

/// A queued e-mail.
#[derive(Clone, Debug)]
pub struct Mail {
    /// Row id.
    pub id: i64,
    /// To.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Body (plain text).
    pub body: String,
    /// Tries so far.
    pub attempts: i64,
}

/// Mails due at `now`, oldest first, at most `limit`.
pub fn due_mails(conn: &Connection, now: u64, limit: usize) -> rusqlite::Result<Vec<Mail>> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT id, to_address, subject, body, attempts FROM mails WHERE sent_at IS NULL AND next_try <= ?1
         ORDER BY id LIMIT {limit}"
    ))?;
    let rows = statement.query_map([now as i64], |r| {
        Ok(Mail { id: r.get(0)?, to: r.get(1)?, subject: r.get(2)?, body: r.get(3)?, attempts: r.get(4)? })
    })?;
    rows.collect()
}

/// Records that the SMTP server took mail `id`.
pub fn mail_sent(conn: &Connection, id: i64, now: u64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE mails SET sent_at = ?2, last_error = NULL, attempts = attempts + 1 WHERE id = ?1",
        params![id, now as i64],
    )?;
    Ok(())
}

/// Records a failed try of mail `id`, to try again at `next_try`.
pub fn mail_failed(conn: &Connection, id: i64, error: &str, next_try: u64) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE mails SET attempts = attempts + 1, last_error = ?2, next_try = ?3 WHERE id = ?1",
        params![id, error, next_try as i64],
    )?;
    Ok(())
}

/// Makes every mail waiting due now (the SMTP settings were changed: try again at once).
pub fn mails_due_now(conn: &Connection, now: u64) -> rusqlite::Result<()> {
    conn.execute("UPDATE mails SET next_try = ?1 WHERE sent_at IS NULL", [now as i64])?;
    Ok(())
}

/// Mails not yet taken by the SMTP server, and the newest error among them.
pub fn mail_backlog(conn: &Connection) -> rusqlite::Result<(usize, Option<String>)> {
    let pending: i64 = conn.query_row("SELECT count(*) FROM mails WHERE sent_at IS NULL", [], |r| r.get(0))?;
    let error: Option<String> = conn
        .query_row(
            "SELECT last_error FROM mails WHERE sent_at IS NULL AND last_error IS NOT NULL ORDER BY id DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok((pending.max(0) as usize, error))
}

/// What happened to application `id`, oldest first: its rows of the audit trail (entered,
/// edited with old → new, refused, approved, issued, rejected, printed, revoked).
pub fn history(conn: &Connection, id: i64) -> rusqlite::Result<Vec<pass_core::audit::Row>> {
    let mut statement = conn.prepare_cached(
        "SELECT id, at, actor, action, detail, prev_hash, hash FROM audit
         WHERE detail = ?1 OR detail LIKE ?1 || ':%' OR detail LIKE ?1 || ',%' ORDER BY id",
    )?;
    let rows = statement.query_map([format!("application {id}")], audit_row)?;
    rows.collect()
}

/// Removes an application nothing was issued for (withdrawn by its enterprise): its vehicles
/// and editors with it. The audit trail keeps the record. `false`: it was decided meanwhile.
pub fn withdraw(tx: &Transaction<'_>, id: i64) -> rusqlite::Result<bool> {
    let state: Option<String> =
        tx.query_row("SELECT state FROM applications WHERE id = ?1", [id], |r| r.get(0)).optional()?;
    if !matches!(state.as_deref(), Some("submitted" | "rejected")) {
        return Ok(false);
    }
    tx.execute("DELETE FROM editors WHERE application = ?1", [id])?;
    tx.execute("DELETE FROM vehicles WHERE application = ?1", [id])?;
    tx.execute("DELETE FROM notices WHERE application = ?1 AND read = 1", [id])?;
    tx.execute("UPDATE notices SET application = NULL WHERE application = ?1", [id])?;
    tx.execute("DELETE FROM applications WHERE id = ?1", [id])?;
    Ok(true)
}

/// Takes back an enterprise's request to cancel `serial` (it changed its mind); `false`: there
/// was none.
pub fn withdraw_cancellation(tx: &Transaction<'_>, serial: u64, application: i64) -> rusqlite::Result<bool> {
    Ok(tx.execute(
        "DELETE FROM cancellations WHERE serial = ?1 AND application = ?2",
        params![serial as i64, application],
    )? > 0)
}

/// Moves vehicle `position` of waiting application `id` into a new application of the same
/// enterprise, rejected with `reason` by `by` (the rest waits on, renumbered); the new
/// application's id. `None`: the application is not waiting or has no such vehicle, or it has
/// only that one (reject the application instead).
pub fn split_off_rejected(
    tx: &Transaction<'_>,
    id: i64,
    position: i64,
    by: i64,
    reason: &str,
    now: u64,
) -> rusqlite::Result<Option<i64>> {
    let row: Option<(i64, i64, String, i64)> = tx
        .query_row(
            "SELECT enterprise, entered_by, state, (SELECT count(*) FROM vehicles WHERE application = ?1) FROM applications WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let Some((enterprise, entered_by, state, count)) = row else { return Ok(None) };
    if state != "submitted" || count < 2 || !(0..count).contains(&position) {
        return Ok(None);
    }
    let (fields, plate): (String, String) = tx.query_row(
        "SELECT fields, plate FROM vehicles WHERE application = ?1 AND position = ?2",
        params![id, position],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    tx.execute(
        "INSERT INTO applications (enterprise, entered_by, edited_by, state, submitted_at, decided_by, decided_at, reason)
         VALUES (?1, ?2, ?2, 'rejected', ?3, ?4, ?3, ?5)",
        params![enterprise, entered_by, now as i64, by, reason],
    )?;
    let new = tx.last_insert_rowid();
    tx.execute(
        "INSERT INTO vehicles (application, position, fields, plate) VALUES (?1, 0, ?2, ?3)",
        params![new, fields, plate],
    )?;
    tx.execute("DELETE FROM vehicles WHERE application = ?1 AND position = ?2", params![id, position])?;
    for p in position + 1..count {
        tx.execute(
            "UPDATE vehicles SET position = ?3 WHERE application = ?1 AND position = ?2",
            params![id, p, p - 1],
        )?;
    }
    Ok(Some(new))
}
