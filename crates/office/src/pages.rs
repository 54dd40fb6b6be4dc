//! The console's pages. maud escapes every value at compile time: a holder or cargo typed as
//! `<script>` is shown as text. Forms work without script (there is none); every form that
//! changes state carries the session's CSRF token.

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, html};

use crate::db::{Account, Application, Role, State};

/// Who is looking, for the header and the forms.
pub struct Viewer<'a> {
    /// The account.
    pub account: &'a Account,
    /// The session's CSRF token.
    pub csrf: &'a str,
    /// The office's name.
    pub office: &'a str,
    /// Notices not yet read.
    pub unread: usize,
}

fn csrf_field(csrf: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(csrf); }
}

/// The header's links for `role`: path and label.
fn nav_items(role: Role) -> &'static [(&'static str, &'static str)] {
    match role {
        Role::Admin => &[
            ("/dashboard", "概况 Dashboard"),
            ("/accounts", "账户 Accounts"),
            ("/queue", "审核队列 Queue"),
            ("/applications", "全部申请 Applications"),
            ("/settings", "设置 Settings"),
        ],
        Role::Reviewer | Role::Clerk => &[
            ("/dashboard", "概况 Dashboard"),
            ("/queue", "审核队列 Queue"),
            ("/applications", "全部申请 Applications"),
            ("/applications/new", "代录申请 New application"),
            ("/applications/upload", "批量代录 Upload a list"),
        ],
        Role::Enterprise => &[
            ("/applications", "我的申请 My applications"),
            ("/applications/new", "申请通行证 Apply"),
            ("/applications/upload", "批量申请 Upload a list"),
        ],
    }
}

/// Whether the page titled `title` is the one the header's link to `href` opens.
fn is_current(title: &str, href: &str) -> bool {
    let title = title.strip_prefix("错误：").unwrap_or(title);
    let first = title.split(' ').next().unwrap_or("");
    match href {
        "/dashboard" => first == "概况",
        "/accounts" => first == "账户",
        "/queue" => first == "审核队列",
        "/applications" => first == "全部申请" || first == "我的申请",
        "/applications/new" => first == "申请通行证",
        "/applications/upload" => first == "批量申请",
        "/settings" => first == "设置",
        "/inbox" => first == "消息",
        _ => false,
    }
}

/// A whole page.
pub fn layout(title: &str, viewer: Option<&Viewer<'_>>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · checkpass" }
                link rel="stylesheet" href="/static/office.css";
            }
            body {
                a.skip href="#main" { "跳到正文 Skip to content" }
                header {
                    strong { "通行证签发 · Pass office" }
                    @if let Some(v) = viewer {
                        span.office { (v.office) }
                        nav aria-label="主菜单 Main menu" {
                            @for (href, label) in nav_items(v.account.role) {
                                a href=(href) aria-current=[is_current(title, href).then_some("page")] { (label) }
                            }
                            a href="/inbox" aria-current=[is_current(title, "/inbox").then_some("page")] {
                                "消息 Inbox"
                                @if v.unread > 0 { " " span.count aria-label=(format!("{} 条未读 unread", v.unread)) { (v.unread) } }
                            }
                        }
                        form.logout method="post" action="/logout" {
                            (csrf_field(v.csrf))
                            span { (v.account.login) " · " (v.account.role.label()) }
                            button type="submit" { "退出 Log out" }
                        }
                    }
                }
                main #main tabindex="-1" { h1 { (title) } (body) }
            }
        }
    }
}

/// The login form.
pub fn login(office: &str, message: Option<&str>, csrf: &str) -> Markup {
    layout(
        "登录 Log in",
        None,
        html! {
            p.office-name { (office) }
            @if let Some(m) = message { p.error { (m) } }
            form method="post" action="/login" {
                (csrf_field(csrf))
                label { "账号 Login" input name="login" autocomplete="username" required; }
                label { "密码 Password" input name="password" type="password" autocomplete="current-password" required; }
                button type="submit" { "登录 Log in" }
            }
        },
    )
}

/// The password change form (required at first login).
pub fn password(viewer: &Viewer<'_>, message: Option<&str>) -> Markup {
    layout(
        "设置密码 Set your password",
        Some(viewer),
        html! {
            @if viewer.account.must_change { p { "首次登录请设置自己的密码。 Set a password of your own before anything else." } }
            @if let Some(m) = message { p.error role="alert" { (m) } }
            form method="post" action="/password" {
                (csrf_field(viewer.csrf))
                div.field { label for="current" { "当前密码 Current password" } input #current name="current" type="password" autocomplete="current-password" required; }
                div.field { label for="new" { "新密码（至少10位） New password (10 characters or more)" } input #new name="new" type="password" autocomplete="new-password" required; }
                button type="submit" { "保存 Save" }
            }
            @if !viewer.account.must_change {
                h2 { "邮件通知 E-mail notices" }
                form method="post" action="/account/email" novalidate {
                    (csrf_field(viewer.csrf))
                    div.field {
                        label for="email" { "邮箱（可不填） E-mail (optional)" }
                        span.hint id="email-hint" { "填写后，消息也发到这个邮箱；清空则不再发送。 Notices also go here; empty to stop." }
                        input #email name="email" type="email" autocomplete="email" value=(viewer.account.email.as_deref().unwrap_or("")) aria-describedby="email-hint";
                    }
                    button type="submit" { "保存邮箱 Save the address" }
                }
            }
        },
    )
}

/// An account's inbox: what happened to its applications and passes, or what waits for it,
/// newest first, the unread marked.
pub fn inbox(viewer: &Viewer<'_>, notices: &[crate::db::Notice], now: u64) -> Markup {
    let unread = notices.iter().filter(|n| !n.read).count();
    layout(
        "消息 Inbox",
        Some(viewer),
        html! {
            @if notices.is_empty() { p { "还没有消息。 Nothing yet." } }
            @if unread > 0 {
                form method="post" action="/inbox/read" {
                    (csrf_field(viewer.csrf))
                    button.secondary type="submit" { "全部标为已读 Mark all read" }
                }
            }
            ul.inbox {
                @for n in notices {
                    li.unread[!n.read] {
                        @if !n.read { span.visually-hidden { "未读 unread: " } }
                        span.when { (age(now.saturating_sub(n.at))) "前 " }
                        @if let Some(a) = n.application { a href=(format!("/applications/{a}")) { (n.text) } } @else { (n.text) }
                    }
                }
            }
        },
    )
}

/// The accounts page (admin), with the one-time password of an account just made, and the new
/// account form (its values kept, each error at its field).
pub fn accounts(
    viewer: &Viewer<'_>,
    accounts: &[Account],
    created: Option<(&str, &str)>,
    values: &BTreeMap<String, String>,
    errors: &BTreeMap<String, String>,
    now: u64,
) -> Markup {
    let value = |name: &str| values.get(name).map(String::as_str).unwrap_or("");
    let error = |name: &str| errors.get(name).map(String::as_str);
    const FIELDS: [(&str, &str, &str, bool); 4] = [
        ("login", "账号 Login", "1至64个字符，不含空格", true),
        ("role", "角色 Role", "", true),
        ("org_name", "企业名称（企业账户必填） Enterprise name", "与营业执照一致，会印在通行证上", false),
        ("org_code", "统一社会信用代码 Unified social credit code", "18位，可不填", false),
    ];
    let summary: Vec<(&str, &str, &str)> =
        FIELDS.iter().filter_map(|(name, label, ..)| error(name).map(|e| (*name, *label, e))).collect();
    layout(
        if summary.is_empty() { "账户 Accounts" } else { "错误：账户 Accounts" },
        Some(viewer),
        html! {
            (error_summary(&summary))
            @if let Some((login, password)) = created {
                p.notice role="status" {
                    "账户 " strong { (login) } " 的一次性密码（只显示这一次，首次登录须修改）: "
                    code.otp { (password) }
                    br; "The account's one-time password (shown once; it must be changed at first login)."
                }
            }
            div.scroll {
                table.cards {
                    thead { tr { th { "账号 Login" } th { "角色 Role" } th { "单位 Organisation" } th { "统一社会信用代码 Code" } th { "状态 State" } } }
                    tbody {
                        @for a in accounts {
                            tr {
                                td data-label="账号" { (a.login) }
                                td data-label="角色" { (a.role.label()) }
                                td data-label="单位" { (a.org_name.as_deref().unwrap_or("")) }
                                td data-label="代码" { (a.org_code.as_deref().unwrap_or("")) }
                                td data-label="状态" {
                                    @if a.disabled { "已停用 disabled " }
                                    @if a.locked_until > now {
                                        form.inline method="post" action=(format!("/accounts/{}/unlock", a.id)) {
                                            (csrf_field(viewer.csrf))
                                            "已锁定 locked "
                                            button.secondary type="submit" { "解锁 Unlock" }
                                        }
                                    }
                                    @if a.role != Role::Admin {
                                        form.inline method="post" action=(format!("/accounts/{}/password", a.id)) {
                                            (csrf_field(viewer.csrf))
                                            button.secondary type="submit" { "重置密码 Reset password" }
                                        }
                                    }
                                    @if a.id != viewer.account.id {
                                        form.inline method="post" action=(format!("/accounts/{}/disabled", a.id)) {
                                            (csrf_field(viewer.csrf))
                                            input type="hidden" name="disabled" value=(if a.disabled { "0" } else { "1" });
                                            button.secondary type="submit" { @if a.disabled { "启用 Enable" } @else { "停用 Disable" } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "新建账户 New account" }
            p { "管理员账户只能在服务器上用 pass-office admin add 创建。 Admin accounts are made on the server." }
            form method="post" action="/accounts" novalidate {
                (csrf_field(viewer.csrf))
                @for (name, label, hint, required) in FIELDS {
                    @let described = described_by(name, hint, error(name));
                    (field(name, label, hint, required, error(name), html! {
                        @if name == "role" {
                            select #field-role name="role" aria-invalid=(error(name).is_some())
                                aria-describedby=[(!described.is_empty()).then_some(&described)] {
                                @for r in [Role::Enterprise, Role::Clerk, Role::Reviewer] {
                                    option value=(r.name()) selected[value("role") == r.name()] { (r.label()) }
                                }
                            }
                        } @else {
                            input #(format!("field-{name}")) name=(name) value=(value(name)) required[required]
                                aria-invalid=(error(name).is_some()) aria-describedby=[(!described.is_empty()).then_some(&described)];
                        }
                    }))
                }
                button type="submit" { "创建 Create" }
            }
        },
    )
}

/// The fields typed as places, which the form's script offers suggestions for.
const PLACE_FIELDS: [&str; 3] = ["origin", "destination", "zones"];

/// The fields of the application form: name, label, input type, hint, required.
const FIELDS: [(&str, &str, &str, &str, bool); 9] = [
    ("plate", "车牌号 Plate", "text", "如 粤A12345，新能源 粤AD12345", true),
    ("driver", "驾驶员 Driver", "text", "如 张三", false),
    ("co_drivers", "副驾驶/随车人员 Co-drivers", "text", "最多2人，用顿号隔开，如 李四、王五", false),
    ("origin", "起点 Origin", "text", "区县名称或6位代码，如 花都区 或 440114", true),
    ("destination", "终点 Destination", "text", "区县名称或6位代码，如 浦东新区", true),
    ("zones", "通行区域 Zones", "text", "可写多个，用分号隔开，如 440114；310000", true),
    ("cargo", "运输物资 Cargo", "text", "如 汽车零部件", true),
    ("valid_from", "有效期起 Valid from", "date", "年-月-日，如 2026-12-01", true),
    ("valid_until", "有效期止 Valid until", "date", "最长92天", true),
];

/// What the application form does: a new application, or an edit of one vehicle of an
/// application (its enterprise fixed).
pub enum FormTarget<'a> {
    /// A new application.
    New,
    /// One vehicle of application `id` at `position`, for the enterprise named.
    Edit {
        /// The application.
        id: i64,
        /// The vehicle's place in it, from 0.
        position: usize,
        /// The enterprise's name (the holder, which an edit cannot change).
        enterprise: &'a str,
    },
}

/// The error summary at the top of a form (GOV.UK's pattern): every error, each a link to its
/// field, focused when the page opens so a screen reader reads it first.
pub fn error_summary(errors: &[(&str, &str, &str)]) -> Markup {
    html! {
        @if !errors.is_empty() {
            div.error-summary role="alert" aria-labelledby="error-summary-title" tabindex="-1" autofocus {
                h2 #error-summary-title { "有" (errors.len()) "处需要改正 There is a problem" }
                ul {
                    @for (name, label, message) in errors {
                        li { a href=(format!("#field-{name}")) { (label.split(' ').next().unwrap_or(label)) "：" (message) } }
                    }
                }
            }
        }
    }
}

/// One form field (GOV.UK's pattern): the label (marked when required), a hint, the error (if
/// any) right above the input, which names both with `aria-describedby` and says
/// `aria-invalid`.
fn field(name: &str, label: &str, hint: &str, required: bool, error: Option<&str>, input: Markup) -> Markup {
    html! {
        div.field.invalid[error.is_some()] {
            label for=(format!("field-{name}")) {
                (label) @if required { " " span.required { "（必填）" } }
            }
            @if !hint.is_empty() { span.hint id=(format!("hint-{name}")) { (hint) } }
            @if let Some(e) = error { span.field-error id=(format!("error-{name}")) { span.visually-hidden { "错误：" } (e) } }
            (input)
        }
    }
}

/// The `aria-describedby` of a field: its hint and its error.
fn described_by(name: &str, hint: &str, error: Option<&str>) -> String {
    let mut ids = Vec::new();
    if !hint.is_empty() {
        ids.push(format!("hint-{name}"));
    }
    if error.is_some() {
        ids.push(format!("error-{name}"));
    }
    ids.join(" ")
}

/// The application form: one vehicle; every error in a summary at the top and at its field;
/// the values typed kept.
pub fn application_form(
    viewer: &Viewer<'_>,
    enterprises: &[Account],
    values: &BTreeMap<String, String>,
    errors: &BTreeMap<String, String>,
    target: &FormTarget<'_>,
) -> Markup {
    let value = |name: &str| values.get(name).map(String::as_str).unwrap_or("");
    let error = |name: &str| errors.get(name).map(String::as_str);
    let (title, action, button) = match target {
        FormTarget::New => ("申请通行证 Apply for a pass".to_owned(), "/applications".to_owned(), "提交申请 Submit"),
        FormTarget::Edit { id, position, .. } => (
            format!("修改申请 #{id} Edit application"),
            format!("/applications/{id}/vehicles/{position}"),
            "保存并重新提交 Save and submit again",
        ),
    };
    // The summary in the form's order, then anything about the whole vehicle.
    let mut summary: Vec<(&str, &str, &str)> = Vec::new();
    if let Some(e) = error("enterprise") {
        summary.push(("enterprise", "企业 Enterprise", e));
    }
    if let Some(e) = error("vehicle_type") {
        summary.push(("vehicle_type", "车辆类型 Vehicle type", e));
    }
    for (name, label, ..) in FIELDS {
        if let Some(e) = error(name) {
            summary.push((name, label, e));
        }
    }
    if let Some(e) = error("row") {
        summary.push(("plate", "整车 Vehicle", e));
    }
    let page_title = if summary.is_empty() { title.clone() } else { format!("错误：{title}") };
    layout(
        &page_title,
        Some(viewer),
        html! {
            (error_summary(&summary))
            form method="post" action=(action) novalidate {
                (csrf_field(viewer.csrf))
                @if let FormTarget::Edit { enterprise, .. } = target {
                    p { "持证单位 Holder: " strong { (enterprise) } }
                } @else if viewer.account.role != Role::Enterprise {
                    (field("enterprise", "企业 Enterprise", "", true, error("enterprise"), html! {
                        select #field-enterprise name="enterprise" required aria-invalid=(error("enterprise").is_some())
                            aria-describedby=[error("enterprise").map(|_| "error-enterprise")] {
                            @if value("enterprise").is_empty() { option value="" selected { "请选择企业 Choose the enterprise" } }
                            @for e in enterprises {
                                option value=(e.id) selected[value("enterprise") == e.id.to_string()] { (e.org_name.as_deref().unwrap_or(&e.login)) }
                            }
                        }
                    }))
                } @else {
                    p { "持证单位 Holder: " strong { (viewer.account.org_name.as_deref().unwrap_or("")) } }
                }
                (field("vehicle_type", "车辆类型 Vehicle type", "", true, error("vehicle_type"), html! {
                    select #field-vehicle_type name="vehicle_type" aria-invalid=(error("vehicle_type").is_some())
                        aria-describedby=[error("vehicle_type").map(|_| "error-vehicle_type")] {
                        @for t in pass_core::VehicleType::ALL {
                            option value=(t.name()) selected[value("vehicle_type") == t.name()] { (t.label()) }
                        }
                    }
                }))
                @for (name, label, kind, hint, required) in FIELDS {
                    @let described = described_by(name, hint, error(name));
                    (field(name, label, hint, required, error(name), html! {
                        @if PLACE_FIELDS.contains(&name) {
                            input #(format!("field-{name}")) name=(name) type=(kind) value=(value(name))
                                aria-invalid=(error(name).is_some()) aria-describedby=[(!described.is_empty()).then_some(&described)]
                                list=(format!("places-{name}")) data-places autocomplete="off" required[required];
                            datalist id=(format!("places-{name}")) {}
                        } @else {
                            input #(format!("field-{name}")) name=(name) type=(kind) value=(value(name))
                                aria-invalid=(error(name).is_some()) aria-describedby=[(!described.is_empty()).then_some(&described)]
                                required[required];
                        }
                    }))
                }
                @if let Some(e) = error("row") { p.error { (e) } }
                button type="submit" { (button) }
            }
            script src="/static/places.js" defer {}
        },
    )
}

/// Passes by what they are now.
pub struct PassCounts {
    /// Valid now.
    pub valid: u64,
    /// Issued, valid from a later day.
    pub upcoming: u64,
    /// Revocations not yet taken by the server.
    pub unsent: usize,
}

/// The dashboard: what waits, how fast passes go out, what is valid, what is not yet sent.
pub fn dashboard(viewer: &Viewer<'_>, figures: &crate::db::Figures, passes: &PassCounts, now: u64) -> Markup {
    let duration = |t: Option<u64>| t.map_or_else(|| "—".to_owned(), age);
    layout(
        "概况 Dashboard",
        Some(viewer),
        html! {
            dl.dashboard {
                dt { "待审核申请 Applications waiting" } dd { (figures.waiting) " · 最早等待 oldest waiting " (duration(figures.oldest.map(|t| now.saturating_sub(t)))) }
                dt { "提交到签发（中位数）今日 Submission to issue, median, today" } dd { (duration(figures.median_today)) }
                dt { "本周 this week" } dd { (duration(figures.median_week)) }
                dt { "当前有效通行证 Passes valid now" } dd { (passes.valid) }
                dt { "已签发、尚未生效 Issued, valid from a later day" } dd { (passes.upcoming) }
                dt { "待发送的注销 Revocations not yet sent" } dd { (passes.unsent) }
            }
            ul.links {
                li { a href="/queue" { "审核队列 Review queue" } }
                li { a href="/statistics" { "按企业和周统计 Statistics by enterprise and week" } }
                li { a href="/passes.xlsx" download { "导出已签发的通行证 Export issued passes (.xlsx)" } }
                @if viewer.account.role == Role::Admin { li { a href="/audit" { "审计日志 Audit trail" } } }
            }
        },
    )
}

/// The spreadsheet upload: many trucks at once, errors by row and column.
pub fn upload(
    viewer: &Viewer<'_>,
    enterprises: &[Account],
    errors: &[pass_issuer::csv_import::RowError],
    message: Option<&str>,
) -> Markup {
    layout(
        "批量申请 Many vehicles at once",
        Some(viewer),
        html! {
            p { "上传车辆表（.xlsx，或 UTF-8/GB18030 的 CSV）。列：车牌号、车辆类型、驾驶员、副驾驶/随车人员、起点、终点、通行区域、货物、有效期起、有效期止；持证单位取自账户。"
                br; "Upload the vehicle list (.xlsx, or CSV in UTF-8 or GB18030), one row a vehicle; the holder is your account's." }
            @if let Some(m) = message { p.error { (m) } }
            @if !errors.is_empty() {
                p.error { "以下各行有误，未提交任何车辆。 Nothing was submitted: these rows need correcting." }
                div.scroll {
                    table.errors {
                        thead { tr { th { "行 Row" } th { "车牌号 Plate" } th { "列 Column" } th { "问题 Problem" } } }
                        tbody {
                            @for e in errors {
                                tr {
                                    td { "第" (e.line) "行" }
                                    td { (e.plate.as_deref().unwrap_or("")) }
                                    td { (e.header.as_deref().unwrap_or_else(|| pass_issuer::csv_import::column_label(&e.column))) }
                                    td.wrap { (e.reason) }
                                }
                            }
                        }
                    }
                }
            }
            form method="post" action="/applications/upload" enctype="multipart/form-data" {
                (csrf_field(viewer.csrf))
                @if viewer.account.role != Role::Enterprise {
                    label { "企业 Enterprise"
                        select name="enterprise" { @for e in enterprises { option value=(e.id) { (e.org_name.as_deref().unwrap_or(&e.login)) } } }
                    }
                }
                label { "文件 File" input type="file" name="file" accept=".xlsx,.csv,text/csv" required; }
                button type="submit" { "上传并提交 Upload and submit" }
            }
        },
    )
}

fn age(seconds: u64) -> String {
    match seconds {
        s if s < 3600 => format!("{} 分钟 min", s / 60),
        s if s < 86_400 => format!("{} 小时 h", s / 3600),
        s => format!("{} 天 d", s / 86_400),
    }
}

/// A list page: which applications, how many, the page's own address.
pub struct ListView<'a> {
    /// The list's path (`/applications`, `/queue`).
    pub path: &'a str,
    /// What it shows.
    pub filter: &'a crate::db::Filter,
    /// This page's applications.
    pub list: &'a [Application],
    /// How many match in all.
    pub total: usize,
    /// How many each tab holds (no tabs on the queue).
    pub counts: &'a [(crate::db::Tab, usize)],
    /// Whether the rows can be chosen for a bulk approval (a reviewer's queue).
    pub bulk: bool,
    /// What the last action did.
    pub notice: Option<&'a str>,
}

/// Text for a query string: every byte but unreserved ones percent-encoded.
fn query_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The address of `view`'s list with another tab, order or page.
fn list_url(view: &ListView<'_>, tab: crate::db::Tab, sort: crate::db::Sort, page: usize) -> String {
    let mut parts = Vec::new();
    if tab != crate::db::Tab::All && view.counts.len() > 1 {
        parts.push(format!("state={}", tab.name()));
    }
    if let Some(q) = view.filter.q.as_deref().filter(|q| !q.is_empty()) {
        parts.push(format!("q={}", query_value(q)));
    }
    if sort != crate::db::Sort::Default {
        parts.push(format!("sort={}", sort.name()));
    }
    if page > 1 {
        parts.push(format!("page={page}"));
    }
    if parts.is_empty() { view.path.to_owned() } else { format!("{}?{}", view.path, parts.join("&")) }
}

/// Applications as a worklist: tabs with counts, a search (plate, enterprise, driver, pass
/// number), an order, pages of [`crate::db::PAGE_SIZE`]; on a reviewer's queue, a box on each
/// row to approve several at once (each still under four eyes).
fn worklist(view: &ListView<'_>, viewer: &Viewer<'_>, now: u64) -> Markup {
    use crate::db::{PAGE_SIZE, Sort, Tab};
    let filter = view.filter;
    let pages = view.total.div_ceil(PAGE_SIZE).max(1);
    let page = filter.page.clamp(1, pages);
    let rows = html! {
        @if view.list.is_empty() { p { "没有符合条件的申请。 No applications match." } }
        @else {
            div.scroll {
                table.cards {
                    thead { tr {
                        @if view.bulk { th { span.visually-hidden { "选择 Choose" } } }
                        th { "编号 No." } th { "企业 Enterprise" } th { "车辆 Vehicles" } th { "状态 State" } th { "提交 Submitted" }
                    } }
                    tbody {
                        @for a in view.list {
                            tr {
                                @if view.bulk {
                                    td data-label="选择" {
                                        input type="checkbox" name=(format!("a{}", a.id)) value="1" id=(format!("pick-{}", a.id))
                                            aria-label=(format!("选择申请 #{} Choose application {}", a.id, a.id));
                                    }
                                }
                                td data-label="编号" { a href=(format!("/applications/{}", a.id)) { "#" (a.id) } }
                                td data-label="企业" { (a.enterprise_name) }
                                td data-label="车辆" {
                                    (a.vehicles.iter().take(SHOWN_PLATES).filter_map(|v| v.get("plate").cloned()).collect::<Vec<_>>().join("、"))
                                    @if a.vehicles.len() > SHOWN_PLATES { " … 共 " (a.vehicles.len()) " 辆" }
                                    @if a.vehicles.len() > 1 && a.vehicles.len() <= SHOWN_PLATES { "（" (a.vehicles.len()) " 辆）" }
                                }
                                td data-label="状态" { (a.state.label()) }
                                td data-label="提交" { (age(now.saturating_sub(a.submitted_at))) "前" }
                            }
                        }
                    }
                }
            }
        }
    };
    html! {
        @if let Some(notice) = view.notice { p.notice role="status" { (notice) } }
        form.search method="get" action=(view.path) role="search" {
            @if filter.tab != Tab::All && view.counts.len() > 1 { input type="hidden" name="state" value=(filter.tab.name()); }
            div.field {
                label for="q" { "查找 Find" }
                span.hint id="q-hint" { "车牌、企业名称、驾驶员或通行证编号 Plate, enterprise, driver or pass number" }
                input #q name="q" type="search" value=(filter.q.as_deref().unwrap_or("")) aria-describedby="q-hint" maxlength="40";
            }
            div.field {
                label for="sort" { "排序 Order" }
                select #sort name="sort" {
                    @for sort in Sort::ALL { option value=(sort.name()) selected[filter.sort == sort] { (sort.label()) } }
                }
            }
            button type="submit" { "查找 Find" }
        }
        @if view.counts.len() > 1 {
            nav.tabs aria-label="按状态 By state" {
                @for (tab, n) in view.counts {
                    a href=(list_url(view, *tab, filter.sort, 1)) aria-current=[(filter.tab == *tab).then_some("page")] {
                        (tab.label()) " " span.count { (n) }
                    }
                }
            }
        }
        p.exports { "导出已签发的通行证 Export issued passes: " a href="/passes.csv" download { "CSV" } " · " a href="/passes.xlsx" download { "Excel (.xlsx)" } }
        p.count-line { "共 " (view.total) " 份申请" @if pages > 1 { "，第 " (page) " / " (pages) " 页" } "。 "
            (view.total) " application(s)" @if pages > 1 { ", page " (page) " of " (pages) } "." }
        @if view.bulk && !view.list.is_empty() {
            form method="post" action="/applications/approve" {
                (csrf_field(viewer.csrf))
                (rows)
                button type="submit" { "批准并签发所选 Approve and issue those chosen" }
                p.hint { "每份申请仍须双人审核：您录入或修改过的申请不会被批准。 Each still needs four eyes: those you entered or edited are left." }
            }
        } @else {
            (rows)
        }
        @if pages > 1 {
            nav.pagination aria-label="翻页 Pages" {
                @if page > 1 { a href=(list_url(view, filter.tab, filter.sort, page - 1)) rel="prev" { "‹ 上一页 Previous" } }
                span { "第 " (page) " / " (pages) " 页" }
                @if page < pages { a href=(list_url(view, filter.tab, filter.sort, page + 1)) rel="next" { "下一页 Next ›" } }
            }
        }
    }
}

/// The review queue: applications waiting (oldest first, with their age), to approve one by
/// one or several at once, then the passes enterprises asked to cancel, one a row, with the
/// reason and the age of the request.
pub fn queue(
    viewer: &Viewer<'_>,
    view: &ListView<'_>,
    cancellations: &[crate::db::Cancellation],
    division: Option<pass_core::Division>,
    now: u64,
) -> Markup {
    layout(
        "审核队列 Review queue",
        Some(viewer),
        html! {
            (worklist(view, viewer, now))
            h2 { "企业申请注销 Cancellations asked for" }
            @if cancellations.is_empty() { p { "没有待处理的注销申请。 None waiting." } }
            @else {
                div.scroll {
                    table.cards {
                        thead { tr { th { "通行证编号 Pass" } th { "车牌号 Plate" } th { "企业 Enterprise" } th { "原因 Reason" } th { "申请于 Asked" } } }
                        tbody {
                            @for c in cancellations {
                                tr {
                                    td data-label="编号" { a href=(format!("/applications/{}#pass-{}", c.application, c.serial)) { (pass_core::model::pass_number(division, c.serial)) } }
                                    td data-label="车牌" { (c.plate) }
                                    td data-label="企业" { (c.enterprise_name) }
                                    td.wrap data-label="原因" { (c.reason) }
                                    td data-label="申请于" { (age(now.saturating_sub(c.requested_at))) "前" }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// Applications (an enterprise's own, or all for staff) as a worklist.
pub fn applications(viewer: &Viewer<'_>, view: &ListView<'_>, now: u64) -> Markup {
    let title = if viewer.account.role == Role::Enterprise {
        "我的申请 My applications"
    } else {
        "全部申请 Applications"
    };
    layout(title, Some(viewer), worklist(view, viewer, now))
}

/// The audit trail, newest first: a search, a page of [`crate::db::AUDIT_PAGE_SIZE`] rows,
/// and the row the office key last signed.
pub fn audit(
    viewer: &Viewer<'_>,
    rows: &[pass_core::audit::Row],
    total: usize,
    q: Option<&str>,
    page: usize,
    signed: Option<i64>,
) -> Markup {
    let tz = pass_core::time::default_zone();
    let pages = total.div_ceil(crate::db::AUDIT_PAGE_SIZE).max(1);
    let url = |page: usize| {
        let mut parts = Vec::new();
        if let Some(q) = q {
            parts.push(format!("q={}", query_value(q)));
        }
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        if parts.is_empty() { "/audit".to_owned() } else { format!("/audit?{}", parts.join("&")) }
    };
    layout(
        "审计日志 Audit trail",
        Some(viewer),
        html! {
            p { "每一次登录、账户和设置变更、提交、审批、签发、打印、下载、导出和注销都记在这里，不能修改。"
                @if let Some(row) = signed { "签发机关密钥已签署到第 " (row) " 条。" }
                " 完整核对：在服务器上运行 " code { "pass-office audit verify" } "。" br;
                "Every login, change, decision, issue, print, download, export and revocation, append-only. Check it whole with pass-office audit verify on the server." }
            form.search method="get" action="/audit" role="search" {
                div.field {
                    label for="q" { "查找 Find" }
                    span.hint id="q-hint" { "账号、操作或详情 Login, action or detail" }
                    input #q name="q" type="search" value=(q.unwrap_or("")) aria-describedby="q-hint" maxlength="40";
                }
                button type="submit" { "查找 Find" }
            }
            p.count-line { "共 " (total) " 条" @if pages > 1 { "，第 " (page) " / " (pages) " 页" } "。" }
            div.scroll {
                table.cards {
                    thead { tr { th { "序号 No." } th { "时间 When" } th { "账号 Who" } th { "操作 Action" } th { "详情 Detail" } } }
                    tbody {
                        @for r in rows {
                            tr {
                                td data-label="序号" { (r.id) }
                                td data-label="时间" { (pass_core::time::human_minute(r.at, &tz)) }
                                td data-label="账号" { (r.actor) }
                                td data-label="操作" { (r.action) }
                                td.wrap data-label="详情" { (r.detail) }
                            }
                        }
                    }
                }
            }
            @if pages > 1 {
                nav.pagination aria-label="翻页 Pages" {
                    @if page > 1 { a href=(url(page - 1)) rel="prev" { "‹ 上一页 Previous" } }
                    span { "第 " (page) " / " (pages) " 页" }
                    @if page < pages { a href=(url(page + 1)) rel="next" { "下一页 Next ›" } }
                }
            }
        },
    )
}

/// Applications and passes by enterprise and week, the last weeks first.
pub fn statistics(
    viewer: &Viewer<'_>,
    figures: &BTreeMap<String, BTreeMap<u64, crate::records::Week>>,
    now: u64,
) -> Markup {
    let tz = pass_core::time::default_zone();
    let this_week = crate::records::week_of(now);
    let weeks: Vec<u64> = (0..crate::records::WEEKS).map(|i| this_week - i * 7 * 86_400).collect();
    let day = |t: u64| pass_core::time::human_minute(t, &tz).chars().take(10).collect::<String>();
    let total = |week: u64| {
        figures
            .values()
            .filter_map(|w| w.get(&week))
            .fold((0, 0, 0), |(s, r, p), w| (s + w.submitted, r + w.rejected, p + w.passes))
    };
    layout(
        "统计 Statistics",
        Some(viewer),
        html! {
            p { "近 " (crate::records::WEEKS) " 周，按周一开始（北京时间）：提交的申请、其中未通过的、签发的通行证。 "
                "The last weeks (from Monday, Beijing time): applications submitted, of them rejected, passes issued." }
            h2 { "合计 All enterprises" }
            div.scroll {
                table.cards {
                    thead { tr { th { "周 Week of" } th { "提交 Submitted" } th { "未通过 Rejected" } th { "签发 Passes" } } }
                    tbody {
                        @for week in &weeks {
                            @let (s, r, p) = total(*week);
                            tr { td data-label="周" { (day(*week)) } td data-label="提交" { (s) } td data-label="未通过" { (r) } td data-label="签发" { (p) } }
                        }
                    }
                }
            }
            h2 { "按企业 By enterprise" }
            @if figures.is_empty() { p { "近期没有申请。 No applications lately." } }
            div.scroll {
                table.cards {
                    thead { tr { th { "企业 Enterprise" } th { "周 Week of" } th { "提交 Submitted" } th { "未通过 Rejected" } th { "签发 Passes" } } }
                    tbody {
                        @for (enterprise, by_week) in figures {
                            @for (week, w) in by_week.iter().rev() {
                                tr {
                                    td data-label="企业" { (enterprise) } td data-label="周" { (day(*week)) }
                                    td data-label="提交" { (w.submitted) } td data-label="未通过" { (w.rejected) } td data-label="签发" { (w.passes) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// Plates shown for one application in a list (a 200-truck list would fill the screen).
const SHOWN_PLATES: usize = 6;

/// What an application's page shows.
pub struct ApplicationView<'a> {
    /// The application.
    pub a: &'a Application,
    /// Its pass numbers, in vehicle order.
    pub numbers: &'a [String],
    /// Its e-pass links: serial and token.
    pub epasses: &'a [(u64, String)],
    /// Each pass's revocation (reason, sent), in vehicle order.
    pub revoked: &'a [Option<(String, bool)>],
    /// Cancellation requests: serial and reason.
    pub requests: &'a [(u64, String)],
    /// Its history from the audit trail, oldest first.
    pub history: &'a [pass_core::audit::Row],
    /// Why an action was refused.
    pub message: Option<&'a str>,
}

/// A place field for people: each place's full name and code.
fn place(text: &str) -> String {
    text.split([' ', ';', '；', ',', '，'])
        .filter(|p| !p.is_empty())
        .map(|p| match pass_core::division::parse_place(p) {
            Ok(d) => format!("{} ({d})", d.full_name().unwrap_or_default()),
            Err(_) => p.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("、")
}

/// A stored date or time as people read it: `2026-12-01` (the date part of RFC 3339).
fn day(text: &str) -> &str {
    text.get(..10).filter(|d| d.as_bytes().get(4) == Some(&b'-')).unwrap_or(text)
}

/// What a row of an application's history says, in plain words.
fn history_words(action: &str) -> &'static str {
    match action {
        "submit" => "提交 submitted",
        "edit" => "修改 edited",
        "approve" => "批准 approved",
        "issue" => "签发 issued",
        "approve_refused" => "批准被拒（双人审核） approval refused (four eyes)",
        "reject" => "未通过 rejected",
        "print" => "打印 printed",
        "print_failed" => "打印失败 printing failed",
        "print_one" => "单张重印 one pass printed again",
        "download" => "下载 downloaded",
        "revoke" => "注销 revoked",
        "cancellation_requested" => "申请注销 cancellation asked for",
        _ => "其他 other",
    }
}

/// One application: its state and counts and what the viewer may do at the top, a rejection's
/// reason as a banner, the vehicles as a compact table (each with its pass number, e-pass, and
/// what may be done with that pass), then its history (who entered, edited (old → new),
/// decided, printed and revoked what).
pub fn application(viewer: &Viewer<'_>, view: &ApplicationView<'_>) -> Markup {
    let a = view.a;
    let role = viewer.account.role;
    let staff = matches!(role, Role::Reviewer | Role::Admin);
    let n = a.vehicles.len();
    let tz = pass_core::time::default_zone();
    let live = (0..n).filter(|i| a.serials.get(*i).is_some() && !matches!(view.revoked.get(*i), Some(Some(_)))).count();
    let editable = matches!(a.state, State::Submitted | State::Rejected) && role != Role::Admin;
    layout(
        &format!("申请 #{} Application", a.id),
        Some(viewer),
        html! {
            @if let Some(m) = view.message { p.error role="alert" { (m) } }
            div.summary {
                p { "状态 State: " strong.state { (a.state.label()) } }
                p { "企业 Enterprise: " strong { (a.enterprise_name) } " · " (n) " 辆 vehicle(s)"
                    @if !a.serials.is_empty() { " · 有效通行证 valid passes " (live) " / " (a.serials.len()) } }
                p { "提交于 Submitted " (pass_core::time::human_minute(a.submitted_at, &tz))
                    @if let Some((who, at)) = &a.decided { " · 决定 Decided by " (who) "，" (pass_core::time::human_minute(*at, &tz)) } }
            }
            @if let (State::Rejected, Some(reason)) = (a.state, &a.reason) {
                div.banner.rejected role="status" {
                    strong { "未通过原因 Why it was not approved: " } (reason)
                    @if role != Role::Reviewer { br; "请修改后重新提交（修改即重新进入审核）。 Correct it and it goes back to the queue." }
                }
            }
            @if a.state == State::Submitted && role == Role::Reviewer {
                div.actions {
                    a.button href=(format!("/applications/{}/approve", a.id)) { "批准并签发 " (n) " 张 Approve and issue " (n) }
                    form.inline-reject method="post" action=(format!("/applications/{}/reject", a.id)) novalidate {
                        (csrf_field(viewer.csrf))
                        div.field {
                            label for="reason" { "不通过原因（企业可见） Reason (the enterprise reads it)" }
                            input #reason name="reason" required maxlength="200";
                        }
                        button.reject type="submit" { "不通过 Reject" }
                    }
                }
            }
            @if a.state == State::Issued && staff {
                form method="post" action=(format!("/applications/{}/print", a.id)) {
                    (csrf_field(viewer.csrf))
                    p { "已签发，打印未完成（不会重复签发）。 Issued; printing did not finish (retrying never issues again)." }
                    button type="submit" { "重新打印 Print again" }
                }
            }
            @if a.state == State::Printed && live > 0 {
                p { a.download href=(format!("/applications/{}/pdf", a.id)) { "下载通行证 PDF（" (live) " 张）· Download the passes (PDF)" } }
            }
            @if !view.epasses.is_empty() && live > 0 {
                p.links { "发给司机的链接 Links for the drivers: "
                    a href=(format!("/applications/{}/links", a.id)) { "二维码清单（可打印） printable sheet" } " · "
                    a href=(format!("/applications/{}/links.csv", a.id)) download { "CSV" } }
            }
            @if editable && role == Role::Reviewer {
                p.hint { "注意：审核人修改后，将不能再批准这份申请（双人审核）。 A reviewer who edits it may no longer approve it (four eyes)." }
            }
            @if matches!(a.state, State::Submitted | State::Rejected) && (role == Role::Enterprise || a.entered_by == viewer.account.id) {
                form.inline method="post" action=(format!("/applications/{}/withdraw", a.id)) {
                    (csrf_field(viewer.csrf))
                    button.secondary type="submit" { "撤回申请 Withdraw the application" }
                }
            }
            @if matches!(a.state, State::Issued | State::Printed) && role != Role::Admin {
                form.inline method="post" action=(format!("/applications/{}/copy", a.id)) {
                    (csrf_field(viewer.csrf))
                    button.secondary type="submit" { "复制为新申请（续期） Copy as a new application (renewal)" }
                }
            }
            h2 { "车辆 Vehicles (" (n) ")" }
            div.scroll {
                table.cards.vehicles {
                    thead { tr { th { "车牌 Plate" } th { "车型 Type" } th { "司乘 Crew" } th { "路线与区域 Route, zones" } th { "有效期 Valid" } th { "通行证 Pass" } } }
                    tbody {
                        @for (i, v) in a.vehicles.iter().enumerate() {
                            @let get = |name: &str| v.get(name).map(String::as_str).unwrap_or("");
                            tr.vehicle id=[a.serials.get(i).map(|s| format!("pass-{s}"))] {
                                td data-label="车牌" { strong { (get("plate")) } }
                                td data-label="车型" { (get("vehicle_type").parse::<pass_core::VehicleType>().map_or("", |t| t.label())) }
                                td data-label="司乘" {
                                    @if !get("driver").is_empty() { (get("driver")) "（驾驶员）" } @else { "—" }
                                    @if !get("co_drivers").is_empty() { "、" (get("co_drivers")) }
                                }
                                td.wrap data-label="路线" {
                                    (place(get("origin"))) " → " (place(get("destination"))) br;
                                    span.hint { "区域 " (place(get("zones"))) }
                                    br; span.hint { "货物 " (get("cargo")) }
                                }
                                td data-label="有效期" { (day(get("valid_from"))) " → " (day(get("valid_until"))) }
                                td.wrap data-label="通行证" {
                                    @if let Some(number) = view.numbers.get(i) { "编号 " (number) br; }
                                    @if editable {
                                        a.edit href=(format!("/applications/{}/vehicles/{i}", a.id)) {
                                            "修改 Edit" @if role == Role::Reviewer { "（修改后不能批准）" }
                                        }
                                    }
                                    @if a.state == State::Submitted && role == Role::Reviewer && n > 1 {
                                        form.reject-one method="post" action=(format!("/applications/{}/vehicles/{i}/reject", a.id)) novalidate {
                                            (csrf_field(viewer.csrf))
                                            div.field {
                                                label for=(format!("reject-{i}")) { "只退回这辆车的原因 Reason to reject this vehicle only" }
                                                input id=(format!("reject-{i}")) name="reason" required maxlength="200";
                                            }
                                            button.reject type="submit" { "退回此车 Reject this vehicle" }
                                        }
                                    }
                                    @if let Some(Some((reason, sent))) = view.revoked.get(i) {
                                        p.revoked {
                                            "已注销 Revoked: " (reason) " · "
                                            @if *sent { "已发送至注销服务器 sent to the revocation server" } @else { "待发送（每分钟重试） waiting to be sent (retried every minute)" }
                                        }
                                    } @else if let Some(serial) = a.serials.get(i) {
                                        @let request = view.requests.iter().find(|(s, _)| s == serial).map(|(_, r)| r.as_str());
                                        @if let Some((_, token)) = view.epasses.iter().find(|(s, _)| s == serial) {
                                            p.epass {
                                                "电子通行证 E-pass: "
                                                a href=(format!("/e/{token}")) { "页面 page" } " · "
                                                a href=(format!("/e/{token}/png")) { "图片 PNG" } " · "
                                                a href=(format!("/applications/{}/passes/{serial}.pdf", a.id)) { "单张打印 print this one" }
                                            }
                                        }
                                        @if let Some(r) = request {
                                            p.request { "企业申请注销 Cancellation asked for: " (r) }
                                            @if role == Role::Enterprise {
                                                form.inline method="post" action=(format!("/applications/{}/cancel/withdraw", a.id)) {
                                                    (csrf_field(viewer.csrf))
                                                    input type="hidden" name="serial" value=(serial);
                                                    button.secondary type="submit" { "撤回注销申请 Withdraw the request" }
                                                }
                                            }
                                        }
                                        @if staff {
                                            form.revoke method="post" action=(format!("/applications/{}/revoke", a.id)) novalidate {
                                                (csrf_field(viewer.csrf))
                                                input type="hidden" name="serial" value=(serial);
                                                div.field {
                                                    label for=(format!("reason-{serial}")) { "注销原因 Reason to revoke" }
                                                    input id=(format!("reason-{serial}")) name="reason" value=(request.unwrap_or("")) required maxlength="200";
                                                }
                                                button.reject type="submit" { @if request.is_some() { "确认注销… Confirm the cancellation…" } @else { "注销此证… Revoke this pass…" } }
                                            }
                                        } @else if role == Role::Enterprise && request.is_none() {
                                            form.cancel method="post" action=(format!("/applications/{}/cancel", a.id)) novalidate {
                                                (csrf_field(viewer.csrf))
                                                input type="hidden" name="serial" value=(serial);
                                                div.field {
                                                    label for=(format!("cancel-{serial}")) { "申请注销（如车辆已售、更换司机） Ask to cancel (vehicle sold, driver changed)" }
                                                    input id=(format!("cancel-{serial}")) name="reason" required maxlength="200";
                                                }
                                                button.reject type="submit" { "申请注销 Ask to cancel" }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if role != Role::Enterprise || !view.history.is_empty() {
                h2 { "记录 History" }
                ol.history {
                    @for row in view.history {
                        li {
                            span.when { (pass_core::time::human_minute(row.at, &tz)) } " "
                            strong { (row.actor) } " " (history_words(&row.action))
                            @if let Some((_, rest)) = row.detail.split_once(": ") { "：" span.detail { (rest) } }
                            @else if let Some((_, rest)) = row.detail.split_once(", ") { "：" span.detail { (rest) } }
                        }
                    }
                }
            }
        },
    )
}

/// The confirmation before approving: what will be issued, and the one button that does it.
pub fn confirm_approve(viewer: &Viewer<'_>, a: &Application) -> Markup {
    let n = a.vehicles.len();
    layout(
        &format!("确认批准申请 #{} Confirm the approval", a.id),
        Some(viewer),
        html! {
            p { "将为 " strong { (a.enterprise_name) } " 签发 " strong { (n) } " 张通行证，签发后只能逐张注销。 "
                (n) " pass(es) will be signed for this enterprise; once issued they can only be revoked one by one." }
            ul.plates { @for v in a.vehicles.iter().take(20) { li { (v.get("plate").map(String::as_str).unwrap_or("")) " · "
                (day(v.get("valid_from").map(String::as_str).unwrap_or(""))) " → " (day(v.get("valid_until").map(String::as_str).unwrap_or(""))) } }
                @if n > 20 { li { "… 共 " (n) " 辆" } } }
            form method="post" action=(format!("/applications/{}/approve", a.id)) {
                (csrf_field(viewer.csrf))
                button.approve type="submit" { "确认批准并签发 " (n) " 张 Approve and issue " (n) }
            }
            p { a href=(format!("/applications/{}", a.id)) { "返回，不批准 Back, without approving" } }
        },
    )
}

/// The confirmation before revoking one pass: which, why, that it cannot be undone.
pub fn confirm_revoke(
    viewer: &Viewer<'_>,
    a: &Application,
    serial: u64,
    number: &str,
    plate: &str,
    reason: &str,
) -> Markup {
    layout(
        "确认注销 Confirm the revocation",
        Some(viewer),
        html! {
            p.banner.rejected { "注销后不能恢复：各检查站同步后，此证即被拒绝。 A revocation cannot be undone: checkpoints refuse the pass once they sync." }
            dl {
                dt { "通行证编号 Pass" } dd { (number) }
                dt { "车牌号 Plate" } dd { (plate) }
                dt { "企业 Enterprise" } dd { (a.enterprise_name) }
                dt { "原因 Reason" } dd { (reason) }
            }
            form method="post" action=(format!("/applications/{}/revoke", a.id)) {
                (csrf_field(viewer.csrf))
                input type="hidden" name="serial" value=(serial);
                input type="hidden" name="reason" value=(reason);
                input type="hidden" name="confirm" value="1";
                button.reject type="submit" { "确认注销 Revoke it" }
            }
            p { a href=(format!("/applications/{}", a.id)) { "返回，不注销 Back, without revoking" } }
        },
    )
}

/// The drivers' links of an application on one printable sheet: each plate with its pass
/// number and a QR code of its e-pass link, for the fleet manager to hand out.
pub fn links_sheet(viewer: &Viewer<'_>, a: &Application, rows: &[(String, String, String, String)]) -> Markup {
    layout(
        &format!("司机链接 #{} Links for the drivers", a.id),
        Some(viewer),
        html! {
            p.no-print { "每辆车一个二维码：司机用手机扫码即可打开电子通行证。打印或发给车队。 One code a truck: the driver scans it to open the e-pass." }
            div.sheet {
                @for (plate, number, url, qr) in rows {
                    figure.link-card {
                        img src=(qr) alt=(format!("{plate} 的电子通行证链接 e-pass link"));
                        figcaption { strong { (plate) } br; "编号 " (number) br; span.url { (url) } }
                    }
                }
            }
        },
    )
}

/// What the settings page shows.
pub struct SettingsView<'a> {
    /// The revocation server.
    pub server: Option<&'a str>,
    /// The SMTP settings saved (the password never shown).
    pub smtp: Option<&'a crate::mail::Smtp>,
    /// Mails not yet taken by the SMTP server, and the newest error.
    pub backlog: (usize, Option<&'a str>),
    /// What the last action did (saved, sent, a warning).
    pub notice: Option<&'a str>,
    /// Errors by field.
    pub errors: &'a BTreeMap<String, String>,
    /// Values typed, kept after an error.
    pub values: &'a BTreeMap<String, String>,
}

/// The admin's settings: the revocation server and the office's token there (never shown);
/// e-mail notices over SMTP, a test mail, and the mails waiting to be sent.
pub fn settings(viewer: &Viewer<'_>, view: &SettingsView<'_>) -> Markup {
    let error = |name: &str| view.errors.get(name).map(String::as_str);
    let typed = |name: &str| view.values.get(name).map(String::as_str);
    let smtp = view.smtp;
    let summary: Vec<(&str, &str, &str)> = [
        ("server", "注销服务器 Revocation server"),
        ("token", "令牌 Token"),
        ("smtp_server", "邮件服务器 SMTP server"),
        ("smtp_from", "发件地址 From"),
        ("test_to", "测试收件地址 Test address"),
    ]
    .into_iter()
    .filter_map(|(name, label)| error(name).map(|e| (name, label, e)))
    .collect();
    let text_field = |name: &'static str,
                      label: &'static str,
                      hint: &'static str,
                      value: String,
                      kind: &'static str| {
        let described = described_by(name, hint, error(name));
        field(
            name,
            label,
            hint,
            false,
            error(name),
            html! {
                input #(format!("field-{name}")) name=(name) type=(kind) value=(value) autocomplete="off"
                    aria-invalid=(error(name).is_some()) aria-describedby=[(!described.is_empty()).then_some(&described)];
            },
        )
    };
    layout(
        if summary.is_empty() { "设置 Settings" } else { "错误：设置 Settings" },
        Some(viewer),
        html! {
            (error_summary(&summary))
            @if let Some(n) = view.notice { p.notice role="status" { (n) } }
            h2 { "注销服务器 Revocation server" }
            form method="post" action="/settings" novalidate {
                (csrf_field(viewer.csrf))
                (text_field("server", "注销服务器地址 Revocation server", "如 https://revocations.example.gov.cn",
                    typed("server").or(view.server).unwrap_or("").to_owned(), "url"))
                (text_field("token", "签发机关令牌 The office's token",
                    "由发证机关用 pass-server token add --issuer KEY_ID 生成；保存后不再显示", String::new(), "password"))
                button type="submit" { "保存并测试连接 Save and test" }
            }
            h2 { "邮件通知 E-mail notices" }
            p { "账户填写了邮箱后，批准、未通过、注销和新申请的消息也发到邮箱。 Accounts that give an address also get their notices by e-mail." }
            @let (waiting, last) = view.backlog;
            p.status-line {
                "待发送 Waiting: " strong { (waiting) } " 封"
                @if let Some(e) = last { br; span.error { "最近一次发送失败（将自动重试）Last failure (retried): " (e) } }
            }
            form method="post" action="/settings/mail" novalidate {
                (csrf_field(viewer.csrf))
                (text_field("smtp_server", "邮件服务器 SMTP server", "主机:端口，如 smtp.example.gov.cn:587",
                    typed("smtp_server").map(str::to_owned).or_else(|| smtp.map(|s| format!("{}:{}", s.host, s.port))).unwrap_or_default(), "text"))
                div.field {
                    label for="field-smtp_security" { "加密方式 Security" }
                    select #field-smtp_security name="smtp_security" {
                        @for sec in [crate::mail::Security::StartTls, crate::mail::Security::Tls, crate::mail::Security::None] {
                            option value=(sec.name()) selected[typed("smtp_security").map_or(smtp.map(|s| s.security) == Some(sec), |t| t == sec.name())] { (sec.label()) }
                        }
                    }
                }
                (text_field("smtp_from", "发件地址 From", "如 pass-office@example.gov.cn",
                    typed("smtp_from").or(smtp.map(|s| s.from.as_str())).unwrap_or("").to_owned(), "email"))
                (text_field("smtp_user", "登录名（可不填） Login (optional)", "",
                    typed("smtp_user").or(smtp.and_then(|s| s.credentials.as_ref().map(|c| c.0.as_str()))).unwrap_or("").to_owned(), "text"))
                (text_field("smtp_password", "密码（不改请留空） Password (leave empty to keep)", "", String::new(), "password"))
                button type="submit" { "保存 Save" }
            }
            form method="post" action="/settings/mail/test" novalidate {
                (csrf_field(viewer.csrf))
                (text_field("test_to", "测试收件地址 Send a test mail to", "",
                    typed("test_to").or(viewer.account.email.as_deref()).unwrap_or("").to_owned(), "email"))
                button.secondary type="submit" { "发送测试邮件 Send a test mail" }
            }
        },
    )
}

/// An error page.
pub fn error(viewer: Option<&Viewer<'_>>, title: &str, message: &str) -> Markup {
    layout(title, viewer, html! { p.error { (message) } p { a href="/" { "返回 Back" } } })
}
