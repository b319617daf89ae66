//! The demo server (`cargo run --example server`) over real HTTP on 127.0.0.1.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use notify_auth::token::{CombinedApiKey, create_token};

#[cfg(feature = "redis")]
#[cfg(feature = "redis")]
#[path = "rate_limit_py/mod.rs"]
mod rate_limit_py;
#[path = "skip/mod.rs"]
mod skip;

/// The demo key file's documented keys.
const DEMO_KEY: &str =
    "demo-26785a09-ab16-4eb0-8407-a37497a57506-3d844edf-8d35-48ac-975b-e847b4f122b0";
const REVOKED_KEY: &str =
    "revoked-26785a09-ab16-4eb0-8407-a37497a57506-c0ffee00-1234-4abc-8def-0123456789ab";

/// The example binary that `cargo test` builds next to this test's own binary.
fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    dir.join("examples")
        .join(format!("server{}", std::env::consts::EXE_SUFFIX))
}

struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(args: &[&str]) -> Server {
    spawn(
        Command::new(server_binary())
            .args(args)
            .stderr(Stdio::null()),
    )
}

/// Starts the server with `RUST_LOG=info`, and the lines it logs as they come.
fn start_logging(args: &[&str]) -> (Server, mpsc::Receiver<String>) {
    let mut command = Command::new(server_binary());
    command
        .args(args)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped());
    let mut server = spawn(&mut command);
    let stderr = BufReader::new(server.child.stderr.take().unwrap());
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    (server, received)
}

/// The first line logged that contains `text` (waiting up to 10 s for it).
fn logged(lines: &mpsc::Receiver<String>, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains(text) => return line,
            Ok(_) => {}
            Err(e) => panic!("no line with {text:?} logged: {e}"),
        }
    }
}

fn spawn(command: &mut Command) -> Server {
    let mut child = command
        .args(["--addr", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .spawn()
        .expect("the example server is built by cargo test");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    Server { child, addr }
}

/// Sends one request and returns the status line, the headers (lower-cased) and the body.
fn send(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (String, String, String) {
    send_body(addr, method, path, headers, "")
}

/// [`send`] with a request body.
fn send_body(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (String, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (status.to_owned(), headers.to_lowercase(), body.to_owned())
}

fn token_for(combined: &str) -> String {
    let key: CombinedApiKey = combined.parse().unwrap();
    create_token(key.secret().expose(), &key.service_id().to_string()).unwrap()
}

#[test]
fn demo_server_answers_as_notify() {
    let server = start(&[]);
    let addr = server.addr.as_str();

    let (status, _, body) = send(addr, "GET", "/_status", &[]);
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("HTTP/1.1 200 OK", "{\"status\":\"ok\"}")
    );

    let auth = format!("Bearer {}", token_for(DEMO_KEY));
    for (method, path) in [
        ("GET", "/v2/notifications"),
        ("POST", "/v2/notifications/sms"),
        ("DELETE", "/v2/"),
    ] {
        let (status, headers, body) = send(addr, method, path, &[("Authorization", &auth)]);
        assert_eq!(status, "HTTP/1.1 200 OK", "{method} {path}");
        assert!(headers.contains("content-type: application/json"));
        assert_eq!(
            body,
            "{\"service_id\":\"26785a09-ab16-4eb0-8407-a37497a57506\",\"api_key_id\":\"1b3f1f3e-8c1a-4c3e-9d0a-6a7c2b5e4f10\",\"key_type\":\"normal\"}"
        );
    }

    let revoked = format!("Bearer {}", token_for(REVOKED_KEY));
    let (status, headers, body) = send(
        addr,
        "GET",
        "/v2/notifications",
        &[("Authorization", &revoked)],
    );
    assert_eq!(status, "HTTP/1.1 403 Forbidden");
    assert!(headers.contains("content-type: application/json"));
    assert_eq!(
        body,
        "{\"errors\":[{\"error\":\"AuthError\",\"message\":\"Invalid token: API key revoked\"}],\"status_code\":403}\n"
    );

    let (status, _, body) = send(addr, "GET", "/v2/notifications", &[]);
    assert_eq!(status, "HTTP/1.1 401 Unauthorized");
    assert_eq!(
        body,
        "{\"errors\":[{\"error\":\"AuthError\",\"message\":\"Unauthorized: authentication token must be provided\"}],\"status_code\":401}\n"
    );

    // Two Authorization headers are joined with "," and can never authenticate.
    let (status, _, _) = send(
        addr,
        "GET",
        "/v2/x",
        &[("Authorization", &auth), ("Authorization", &auth)],
    );
    assert_eq!(status, "HTTP/1.1 403 Forbidden");
}

#[test]
fn demo_server_internal_routes() {
    let server = start(&[]);
    let addr = server.addr.as_str();
    for secret in ["dev-notify-secret-key", "dev-notify-secret-key-rotated"] {
        let auth = format!("Bearer {}", create_token(secret, "notify-admin").unwrap());
        for path in [
            "/service",
            "/service/26785a09-ab16-4eb0-8407-a37497a57506/api-keys",
        ] {
            let (status, _, body) = send(addr, "POST", path, &[("Authorization", &auth)]);
            assert_eq!(status, "HTTP/1.1 200 OK", "{path}");
            assert_eq!(body, "{\"client_id\":\"notify-admin\"}");
        }
    }
    let public = format!("Bearer {}", token_for(DEMO_KEY));
    let (status, headers, body) = send(addr, "GET", "/service", &[("Authorization", &public)]);
    assert_eq!(status, "HTTP/1.1 401 Unauthorized");
    assert!(headers.contains("content-type: application/json"));
    assert_eq!(
        body,
        "{\"message\":{\"token\":[\"Unauthorized: not allowed to perform this action\"]},\"result\":\"error\"}\n"
    );
}

#[test]
fn demo_server_refuses_a_bad_key_file_with_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("notify-auth-bad-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("keys.json");
    std::fs::write(&path, "{\"services\": [\n  {\"id\": \"x\"}\n]}").unwrap();
    let output = Command::new(server_binary())
        .args(["--addr", "127.0.0.1:0", "--keys"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("error: {}: line 2, column", path.display())),
        "{stderr}"
    );
    assert_eq!(
        refused(&["--addr", "nowhere"]),
        "error: invalid value 'nowhere' for '--addr <ADDR>': invalid socket address syntax\n"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A missing or unusable setting for the database's secret format is a one-line error naming
/// it, exit code 2, and never prints a setting's value.
#[cfg(feature = "postgres")]
#[test]
fn demo_server_refuses_unusable_secret_format_settings() {
    let url = "postgres://u@127.0.0.1:1/db";
    /// Arguments, environment, and what stderr says.
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: [Case; 6] = [
        (
            &["--secret-format", "itsdangerous"],
            &[("DANGEROUS_SALT", "s")],
            "SECRET_KEY is not set",
        ),
        (
            &["--secret-format", "fernet"],
            &[("SECRET_KEY", "k")],
            "DANGEROUS_SALT is not set",
        ),
        (
            &["--secret-format", "fernet"],
            &[
                ("SECRET_KEY", "k-value-never-shown"),
                ("DANGEROUS_SALT", "short-salt"),
            ],
            "DANGEROUS_SALT) is 10 bytes long",
        ),
        (
            &["--secret-format", "itsdangerous"],
            &[("SECRET_KEY", "old,,new"), ("DANGEROUS_SALT", "s")],
            "SECRET_KEY) is empty",
        ),
        (&["--secret-format", "rot13"], &[], "unknown secret format"),
        (
            &["--database-url", "postgres://u@h:notaport/db"],
            &[],
            "--database-url",
        ),
    ];
    for (args, env, expected) in cases {
        let mut command = Command::new(server_binary());
        command
            .args(["--addr", "127.0.0.1:0", "--database-url", url])
            .args(args)
            .env_remove("SECRET_KEY")
            .env_remove("DANGEROUS_SALT");
        for (name, value) in env {
            command.env(name, value);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        for (_, value) in env {
            assert!(value.len() < 3 || !stderr.contains(value), "{stderr}");
        }
    }
    let output = Command::new(server_binary())
        .args(["--addr", "127.0.0.1:0", "--secret-format", "fernet"])
        .env_remove("DATABASE_URL")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs --database-url"));
}

#[test]
fn demo_server_with_request_binding_required() {
    use notify_auth::token::create_bound_token;

    let server = start(&["--request-binding", "required"]);
    let addr = server.addr.as_str();
    let key: CombinedApiKey = DEMO_KEY.parse().unwrap();
    let (secret, iss) = (key.secret().expose(), key.service_id().to_string());
    let body = r#"{"phone_number":"07700900000"}"#;
    let bound = create_bound_token(
        secret,
        &iss,
        "POST",
        "/v2/notifications/sms",
        Some(body.as_bytes()),
    )
    .unwrap();
    let auth = format!("Bearer {bound}");
    let (status, _, _) = send_body(
        addr,
        "POST",
        "/v2/notifications/sms?x=1",
        &[("Authorization", &auth)],
        body,
    );
    assert_eq!(status, "HTTP/1.1 200 OK");
    let (status, _, answer) = send_body(
        addr,
        "POST",
        "/v2/notifications/email",
        &[("Authorization", &auth)],
        body,
    );
    assert_eq!(status, "HTTP/1.1 403 Forbidden");
    assert_eq!(
        answer,
        "{\"errors\":[{\"error\":\"AuthError\",\"message\":\"Invalid token: request\"}],\"status_code\":403}\n"
    );
    let (status, _, answer) = send_body(
        addr,
        "POST",
        "/v2/notifications/sms",
        &[("Authorization", &auth)],
        "{}",
    );
    assert_eq!(status, "HTTP/1.1 403 Forbidden");
    assert!(answer.contains("Invalid token: payload"));
    // A plain token is not enough in required mode.
    let plain = format!("Bearer {}", token_for(DEMO_KEY));
    let (status, _, answer) = send(
        addr,
        "GET",
        "/v2/notifications",
        &[("Authorization", &plain)],
    );
    assert_eq!(status, "HTTP/1.1 403 Forbidden");
    assert!(answer.contains("Invalid token: request"));
    // Over the 1 MiB default limit: 413.
    let big = "x".repeat(1024 * 1024 + 1);
    let token = create_bound_token(secret, &iss, "POST", "/v2/big", Some(big.as_bytes())).unwrap();
    let (status, _, answer) = send_body(
        addr,
        "POST",
        "/v2/big",
        &[("Authorization", &format!("Bearer {token}"))],
        &big,
    );
    assert_eq!(status, "HTTP/1.1 413 Payload Too Large");
    assert!(answer.contains("PayloadTooLargeError"));
}

/// Notify's success line, in the demo server's log format (the shape of `tracing-subscriber`'s
/// default: time, level, target, message, fields), written while the server runs; values a
/// client controls are escaped.
#[test]
fn demo_server_logs_notifys_success_line() {
    let (server, lines) = start_logging(&[]);
    let addr = server.addr.as_str();
    let auth = format!("Bearer {}", token_for(DEMO_KEY));
    // A tab and a C1 control character (U+0085, sent as UTF-8): header values may hold both.
    let agent = "NOTIFY-API-PYTHON-CLIENT/12.1.0\t\u{85}end";
    let (status, _, body) = send(
        addr,
        "GET",
        "/v2/notifications?page=2",
        &[("Authorization", &auth), ("User-Agent", agent)],
    );
    assert_eq!(status, "HTTP/1.1 200 OK");
    let principal: serde_json::Value = serde_json::from_str(&body).unwrap();
    let (service, key) = (
        principal["service_id"].as_str().unwrap(),
        principal["api_key_id"].as_str().unwrap(),
    );
    let line = logged(&lines, "API authorised for service");
    let (time, rest) = line.split_once(' ').unwrap();
    assert!(
        time.len() == 27
            && time.ends_with('Z')
            && time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339)
                .is_ok(),
        "{line}"
    );
    let escaped_agent = "NOTIFY-API-PYTHON-CLIENT/12.1.0\\x09\\u{85}end";
    let debug_agent = "NOTIFY-API-PYTHON-CLIENT/12.1.0\\t\\u{85}end";
    let url = format!("http://{addr}/v2/notifications");
    assert_eq!(
        rest,
        format!(
            " INFO notify_auth::authorised: API authorised for service {service} with api key \
             {key}, using issuer {escaped_agent} for URL: {url} service_id={service} \
             api_key_id={key} key_type=normal user_agent=\"{debug_agent}\" url={url}"
        )
    );

    send(
        addr,
        "GET",
        "/v2/notifications",
        &[("Authorization", "Bearer x")],
    );
    let line = logged(&lines, "API request rejected");
    let (_, rest) = line.split_once(' ').unwrap();
    assert_eq!(
        rest,
        " INFO notify_auth::rejected: API request rejected: Invalid token: make sure your API \
         token matches the example at \
         https://docs.notifications.service.gov.uk/rest-api.html#authorisation-header \
         status=403 kind=\"invalid_token\" reason=\"segments\""
    );
}

/// `--dialect gc` over HTTP: a raw key authenticates, GC's words answer, `OPTIONS` passes;
/// a dialect the server does not know is a one-line error and exit code 2.
#[test]
fn demo_server_speaks_gc_notify() {
    let server = start(&["--dialect", "gc"]);
    let addr = server.addr.as_str();
    let key: CombinedApiKey = DEMO_KEY.parse().unwrap();
    let raw = notify_auth::token::gc_key_string("demo", key.service_id(), key.secret().expose());
    let auth = format!("ApiKey-v1 {raw}");
    let (status, _, body) = send(
        addr,
        "GET",
        "/v2/notifications",
        &[("Authorization", &auth)],
    );
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(body.contains(&key.service_id().to_string()), "{body}");
    let (status, _, body) = send(addr, "GET", "/v2/notifications", &[]);
    assert_eq!(status, "HTTP/1.1 401 Unauthorized");
    assert_eq!(
        body,
        "{\"errors\":[{\"error\":\"AuthError\",\"message\":\"Unauthorized, authentication token \
         must be provided\"}],\"status_code\":401}\n"
    );
    let (status, _, body) = send(addr, "OPTIONS", "/v2/notifications", &[]);
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("HTTP/1.1 200 OK", "null")
    );

    let stderr = refused(&["--addr", "127.0.0.1:0", "--dialect", "fr"]);
    assert_eq!(
        stderr.trim_end(),
        "error: invalid value 'fr' for '--dialect <DIALECT>': unknown dialect \"fr\" (expected \
         uk, gc, gov or va)"
    );
}

/// `--help` describes every flag with its environment variable and default; `--version`
/// names the server. Both exit 0.
#[test]
fn demo_server_help_describes_every_flag() {
    let output = Command::new(server_binary())
        .arg("--help")
        .env("DATABASE_URL", "postgres://u:never-shown@db/notify")
        .env("REDIS_URL", "redis://:never-shown@cache/0")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let help = String::from_utf8_lossy(&output.stdout);
    for (flag, variable, default) in [
        ("--addr", "NOTIFY_AUTH_ADDR", Some("127.0.0.1:6011")),
        ("--keys", "NOTIFY_AUTH_KEYS", Some("examples/keys.json")),
        ("--database-url", "DATABASE_URL", None),
        (
            "--secret-format",
            "NOTIFY_AUTH_SECRET_FORMAT",
            Some("plain"),
        ),
        (
            "--request-binding",
            "NOTIFY_AUTH_REQUEST_BINDING",
            Some("off"),
        ),
        ("--dialect", "NOTIFY_AUTH_DIALECT", Some("uk")),
        ("--gc-raw-keys", "NOTIFY_AUTH_GC_RAW_KEYS", Some("exact")),
        ("--no-auth", "NOTIFY_AUTH_NO_AUTH", None),
        ("--redis-url", "REDIS_URL", None),
        ("--no-rate-limit", "NOTIFY_AUTH_NO_RATE_LIMIT", None),
    ] {
        let line = help
            .lines()
            .skip_while(|l| !l.trim_start().starts_with(flag))
            .take_while(|l| !l.trim_start().starts_with("--") || l.trim_start().starts_with(flag))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            line.contains(&format!("[env: {variable}")),
            "{flag}: {help}"
        );
        if let Some(default) = default {
            assert!(
                line.contains("[default: ") && line.contains(default),
                "{flag}: {help}"
            );
        }
    }
    assert!(!help.contains("never-shown"), "{help}");
    let output = Command::new(server_binary())
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("server {}\n", env!("CARGO_PKG_VERSION"))
    );
}

/// Every flag can come from the environment (a flag wins over its variable); a bad value
/// there is the same one-line error as on the command line.
#[test]
fn demo_server_reads_its_settings_from_the_environment() {
    let server = spawn(
        Command::new(server_binary())
            .env("NOTIFY_AUTH_DIALECT", "gc")
            .env("NOTIFY_AUTH_REQUEST_BINDING", "off")
            .stderr(Stdio::null()),
    );
    let (status, _, body) = send(&server.addr, "GET", "/v2/notifications", &[]);
    assert_eq!(status, "HTTP/1.1 401 Unauthorized");
    assert!(
        body.contains("Unauthorized, authentication token must be provided"),
        "{body}"
    );
    let server = spawn(
        Command::new(server_binary())
            .args(["--dialect", "uk"])
            .env("NOTIFY_AUTH_DIALECT", "gc")
            .stderr(Stdio::null()),
    );
    let (_, _, body) = send(&server.addr, "GET", "/v2/notifications", &[]);
    assert!(
        body.contains("Unauthorized: authentication token must be provided"),
        "{body}"
    );
    let output = Command::new(server_binary())
        .env("NOTIFY_AUTH_ADDR", "127.0.0.1:0")
        .env("NOTIFY_AUTH_DIALECT", "fr")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("unknown dialect \"fr\""), "{stderr}");
}

/// With the `metrics` feature, `GET /metrics` answers the crate's series in Prometheus's text
/// format, labelled with codes, never ids.
#[cfg(feature = "metrics")]
#[test]
fn demo_server_exposes_its_metrics() {
    let server = start(&[]);
    let addr = server.addr.as_str();
    let auth = format!("Bearer {}", token_for(DEMO_KEY));
    let (status, _, _) = send(
        addr,
        "GET",
        "/v2/notifications",
        &[("Authorization", &auth)],
    );
    assert_eq!(status, "HTTP/1.1 200 OK");
    send(
        addr,
        "GET",
        "/v2/notifications",
        &[("Authorization", "Bearer x")],
    );
    send(addr, "GET", "/v2/notifications", &[]);
    let (status, _, body) = send(addr, "GET", "/metrics", &[]);
    assert_eq!(status, "HTTP/1.1 200 OK");
    for line in [
        "notify_auth_requests_total{route=\"public\",outcome=\"authorised\",kind=\"normal\"} 1",
        "notify_auth_requests_total{route=\"public\",outcome=\"rejected\",kind=\"invalid_token\"} 1",
        "notify_auth_requests_total{route=\"public\",outcome=\"rejected\",kind=\"missing_token\"} 1",
    ] {
        assert!(body.contains(line), "{line} in:\n{body}");
    }
    let key: CombinedApiKey = DEMO_KEY.parse().unwrap();
    assert!(
        !body.contains(&key.service_id().to_string()),
        "no ids: {body}"
    );
}

/// A key file with one service limited to 6 requests a minute (a bucket of 3 tokens, one
/// every 10 seconds: 2 requests through, then 429), with a normal and a test key.
fn limited_keys(name: &str) -> (PathBuf, [String; 2]) {
    limited_keys_expiring(name, serde_json::Value::Null)
}

/// The same, the keys expiring at `expiry_date` (VA Notify's keys all have one).
fn limited_keys_expiring(name: &str, expiry_date: serde_json::Value) -> (PathBuf, [String; 2]) {
    let dir = std::env::temp_dir().join(format!("notify-auth-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let service = uuid::Uuid::new_v4();
    let (live, test) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let file = serde_json::json!({
        "services": [{
            "id": service, "active": true, "rate_limit": 6,
            "api_keys": [
                {"id": uuid::Uuid::new_v4(), "secret": live, "key_type": "normal",
                 "expiry_date": expiry_date},
                {"id": uuid::Uuid::new_v4(), "secret": test, "key_type": "test",
                 "expiry_date": expiry_date},
            ],
        }],
        "internal_clients": {"notify-admin": ["dev-notify-secret-key"]},
    });
    let path = dir.join("keys.json");
    std::fs::write(&path, file.to_string()).unwrap();
    let keys = [live, test].map(|secret| format!("key-{service}-{secret}"));
    (path, keys)
}

/// Runs the server with `args`, which it must refuse: exit code 2 and one line on stderr,
/// returned.
fn refused(args: &[&str]) -> String {
    let output = Command::new(server_binary()).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
    stderr
}

/// A request to send a notification with `combined`'s key, answered Notify's 429 (a limit of
/// 6 a minute, on a live key).
fn assert_limited(addr: &str, combined: &str) {
    assert_eq!(
        post_sms(addr, combined),
        (
            "HTTP/1.1 429 Too Many Requests".to_owned(),
            LIMITED_LIVE.to_owned()
        ),
        "{combined}"
    );
}

fn post_sms(addr: &str, combined: &str) -> (String, String) {
    let auth = format!("Bearer {}", token_for(combined));
    let (status, _, body) = send(
        addr,
        "POST",
        "/v2/notifications/sms",
        &[("Authorization", &auth)],
    );
    (status, body)
}

const LIMITED_LIVE: &str = "{\"errors\":[{\"error\":\"RateLimitError\",\"message\":\"Exceeded \
     rate limit for key type LIVE of 6 requests per 60 seconds\"}],\"status_code\":429}\n";

/// Sending a notification meets Notify's API rate limit (in memory without `--redis-url`):
/// the service's own limit, per key type, Notify's 429; other routes and methods are not
/// limited.
#[test]
fn demo_server_rate_limits_sending() {
    let (path, [live, test]) = limited_keys("rate-limit");
    let server = start(&["--keys", path.to_str().unwrap()]);
    let addr = server.addr.as_str();
    for _ in 0..2 {
        assert_eq!(post_sms(addr, &live).0, "HTTP/1.1 200 OK");
    }
    assert_limited(addr, &live);
    assert_eq!(post_sms(addr, &test).0, "HTTP/1.1 200 OK");
    let auth = format!("Bearer {}", token_for(&live));
    let (status, _, _) = send(
        addr,
        "GET",
        "/v2/notifications/sms",
        &[("Authorization", &auth)],
    );
    assert_eq!(status, "HTTP/1.1 200 OK");
    let (status, _, _) = send(
        addr,
        "POST",
        "/v2/notifications",
        &[("Authorization", &auth)],
    );
    assert_eq!(status, "HTTP/1.1 200 OK");

    let server = start(&["--keys", path.to_str().unwrap(), "--no-rate-limit"]);
    for _ in 0..5 {
        assert_eq!(post_sms(&server.addr, &live).0, "HTTP/1.1 200 OK");
    }
}

/// In GC Notify's and VA Notify's dialects the server counts as they do: the requests of the
/// last minute, the seventh over a limit of 6; Notify.gov has no API rate limit.
#[test]
fn demo_server_rate_limits_as_each_fork() {
    let (path, [live, _]) = limited_keys("rate-limit-forks");
    let (va_path, [va_live, _]) =
        limited_keys_expiring("rate-limit-va", serde_json::json!("2100-01-01T00:00:00Z"));
    for (dialect, path, live) in [("gc", &path, &live), ("va", &va_path, &va_live)] {
        let server = start(&["--keys", path.to_str().unwrap(), "--dialect", dialect]);
        for _ in 0..6 {
            assert_eq!(
                post_sms(&server.addr, live).0,
                "HTTP/1.1 200 OK",
                "{dialect}"
            );
        }
        assert_limited(&server.addr, live);
    }
    let server = start(&["--keys", path.to_str().unwrap(), "--dialect", "gov"]);
    for _ in 0..10 {
        assert_eq!(post_sms(&server.addr, &live).0, "HTTP/1.1 200 OK");
    }
}

/// With `--redis-url`, the buckets are Notify's in Redis: GOV.UK Notify's Python (its
/// validator's function and script, conformance/rate_limit.py) and the server draw from the
/// same ones, both ways. A Redis nobody answers at lets requests through; a URL that is not
/// usable is a one-line error and exit code 2.
#[cfg(feature = "redis")]
#[test]
fn demo_server_shares_notifys_buckets_in_redis() {
    let url = match std::env::var("NOTIFY_AUTH_REDIS_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            skip::skipped(
                "demo_server_shares_notifys_buckets_in_redis: NOTIFY_AUTH_REDIS_URL is not set \
                 (run under scripts/with-redis)",
            );
            return;
        }
    };
    let test_name = "demo_server_shares_notifys_buckets_in_redis";
    let Some(python) = rate_limit_py::oracle_python(test_name) else {
        return;
    };
    let (path, [live, test]) = limited_keys("redis");
    let service = |combined: &str| {
        let key: CombinedApiKey = combined.parse().unwrap();
        key.service_id().to_string()
    };
    let notify_takes = |combined: &str, key_type: &str| -> Vec<i64> {
        let service = service(combined);
        rate_limit_py::rate_limit_py(&python, &[&url, "take", &service, key_type, "6", "1"])
    };
    let server = start(&["--keys", path.to_str().unwrap(), "--redis-url", &url]);
    let addr = server.addr.as_str();
    // Notify first: 3 tokens, it takes one and leaves 2; the server's first request leaves 1
    // (through), its second none (429).
    assert_eq!(notify_takes(&live, "normal"), [2]);
    assert_eq!(post_sms(addr, &live).0, "HTTP/1.1 200 OK");
    assert_limited(addr, &live);
    // The server first: two requests through, and Notify finds the bucket empty.
    assert_eq!(post_sms(addr, &test).0, "HTTP/1.1 200 OK");
    assert_eq!(post_sms(addr, &test).0, "HTTP/1.1 200 OK");
    assert_eq!(notify_takes(&test, "test"), [0]);

    // In GC Notify's dialect, its window: GC's Python counts 3 of the 6, the server 3 more,
    // then the seventh is over, and GC's Python finds it so.
    let (gc_path, [gc_live, _]) = limited_keys("redis-gc");
    let gc_sends = |n: &str| -> Vec<bool> {
        let service = service(&gc_live);
        rate_limit_py::rate_limit_py(&python, &[&url, "window", &service, "normal", "6", n])
    };
    let gc_args = ["--keys", gc_path.to_str().unwrap(), "--redis-url", &url];
    let gc = start(&[&gc_args[..], &["--dialect", "gc"]].concat());
    assert_eq!(gc_sends("3"), [false, false, false]);
    for _ in 0..3 {
        assert_eq!(post_sms(&gc.addr, &gc_live).0, "HTTP/1.1 200 OK");
    }
    assert_eq!(
        post_sms(&gc.addr, &gc_live).0,
        "HTTP/1.1 429 Too Many Requests"
    );
    assert_eq!(gc_sends("1"), [true]);

    // Nobody at that port: requests go through, quickly.
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = nobody.local_addr().unwrap().port();
    drop(nobody);
    let down = format!("redis://127.0.0.1:{port}/0");
    let server = start(&["--keys", path.to_str().unwrap(), "--redis-url", &down]);
    let started = Instant::now();
    for _ in 0..5 {
        assert_eq!(post_sms(&server.addr, &live).0, "HTTP/1.1 200 OK");
    }
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    let stderr = refused(&[
        "--addr",
        "127.0.0.1:0",
        "--redis-url",
        "http://:hunter2@cache.internal/",
    ]);
    assert!(
        stderr.starts_with("error: --redis-url: the Redis URL is not usable"),
        "{stderr}"
    );
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

/// `--redis-url rediss://…` with `--redis-ca-file`: the limit is kept in a Redis over TLS
/// whose certificate a private CA issued; a CA file that cannot be read is a one-line error.
#[cfg(feature = "redis")]
#[test]
fn demo_server_keeps_its_buckets_in_a_redis_over_tls() {
    let (Ok(url), Ok(ca)) = (
        std::env::var("NOTIFY_AUTH_REDIS_TLS_URL"),
        std::env::var("NOTIFY_AUTH_REDIS_CA"),
    ) else {
        skip::skipped(
            "demo_server_keeps_its_buckets_in_a_redis_over_tls: NOTIFY_AUTH_REDIS_TLS_URL is \
             not set (run under scripts/with-redis)",
        );
        return;
    };
    let (path, [live, _]) = limited_keys("redis-tls");
    let keys = path.to_str().unwrap();
    let server = start(&["--keys", keys, "--redis-url", &url, "--redis-ca-file", &ca]);
    // A bucket of 3: two requests through, then 429 (a Redis that cannot be reached would let
    // them all through).
    for expected in [
        "HTTP/1.1 200 OK",
        "HTTP/1.1 200 OK",
        "HTTP/1.1 429 Too Many Requests",
    ] {
        assert_eq!(post_sms(&server.addr, &live).0, expected);
    }

    let ca_alone = refused(&["--addr", "127.0.0.1:0", "--redis-ca-file", &ca]);
    assert!(
        ca_alone.contains("--redis-url"),
        "a CA without a Redis: {ca_alone}"
    );
    let stderr = refused(&[
        "--addr",
        "127.0.0.1:0",
        "--keys",
        keys,
        "--redis-url",
        &url,
        "--redis-ca-file",
        "/nonexistent/ca.pem",
    ]);
    assert!(
        stderr.starts_with("error: --redis-ca-file /nonexistent/ca.pem: "),
        "{stderr}"
    );
}
