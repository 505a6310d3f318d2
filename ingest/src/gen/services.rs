//! The simulated fleet: one service per log format, and what each writes in normal operation.
//!
//! Each writer appends one event (one line, or a log4j line with its stack trace) to a byte
//! buffer. Fixed texts are byte literals and numbers go through `itoa`, so a line costs no
//! allocation. Error ratios rise while a spike incident is active ([`Scene::spike`]).

use rand::Rng;

use super::clock::{epoch_ms, push_fixed, push_int};
use super::{pick, Scene};

/// How a service spells its lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// pino / winston JSON lines (Node.js).
    Json,
    /// `key=value` pairs (Go).
    Logfmt,
    /// nginx combined access log with `$request_time` appended.
    Access,
    /// log4j pattern layout, Java stack traces on errors.
    Log4j,
    /// RFC 3164 syslog as written to `/var/log/syslog`.
    Syslog,
}

/// One simulated service.
#[derive(Debug, Clone, Copy)]
pub struct Service {
    /// Also the file name: `<name>.log`.
    pub name: &'static str,
    pub format: Format,
    pub host: &'static str,
    /// Share of the normal traffic, in percent.
    pub weight: u32,
}

pub(crate) const GATEWAY: usize = 0;
pub(crate) const CHECKOUT: usize = 1;
pub(crate) const USERS: usize = 2;
pub(crate) const INVENTORY: usize = 3;
pub(crate) const PAYMENTS: usize = 4;
pub(crate) const SYSLOG: usize = 5;

/// The fleet, indexed by the constants above.
pub const SERVICES: [Service; 6] = [
    Service {
        name: "gateway",
        format: Format::Access,
        host: "edge-1",
        weight: 40,
    },
    Service {
        name: "checkout",
        format: Format::Json,
        host: "web-1",
        weight: 15,
    },
    Service {
        name: "users",
        format: Format::Json,
        host: "web-2",
        weight: 10,
    },
    Service {
        name: "inventory",
        format: Format::Logfmt,
        host: "app-1",
        weight: 15,
    },
    Service {
        name: "payments",
        format: Format::Log4j,
        host: "app-2",
        weight: 12,
    },
    Service {
        name: "syslog",
        format: Format::Syslog,
        host: "web-1",
        weight: 8,
    },
];

/// `checkout` runs Node 14 under pm2 on a host; `users` runs Node 18 in a container (pid 1).
pub(crate) const CHECKOUT_PID: u32 = 2314;

/// Writes one normal event of `service`.
pub(crate) fn write_normal(service: usize, sc: &mut Scene, out: &mut Vec<u8>) {
    match service {
        GATEWAY => access(sc, out),
        CHECKOUT => checkout(sc, out),
        USERS => users(sc, out),
        INVENTORY => inventory(sc, out),
        PAYMENTS => payments(sc, out),
        _ => syslog(sc, out),
    }
}

const PATHS: [&[u8]; 9] = [
    b"GET /api/orders/",
    b"POST /api/checkout",
    b"GET /api/cart",
    b"GET /api/users/me",
    b"GET /api/inventory/SKU-",
    b"GET /static/js/app.3f9c2e1.js",
    b"GET /healthz",
    b"POST /api/sessions",
    b"GET /api/products?page=",
];
const AGENTS: [&[u8]; 5] = [
    b"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    b"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    b"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
    b"kube-probe/1.31",
    b"okhttp/4.12.0",
];

fn access(sc: &mut Scene, out: &mut Vec<u8>) {
    let rng = &mut sc.rng;
    let path = rng.random_range(0..PATHS.len());
    // Upstream paths fail during a spike: inventory and everything that reserves stock.
    let upstream = matches!(path, 1 | 2 | 4);
    let roll = rng.random_range(0..1000u32);
    let (status, millis): (u32, u64) = if sc.spike && upstream && roll < 380 {
        if roll < 120 {
            (504, 60_000 + rng.random_range(0..40))
        } else {
            (*pick(rng, &[502, 503, 500]), rng.random_range(5..900))
        }
    } else {
        let status = match roll {
            0..=849 => {
                if path == 1 {
                    201
                } else {
                    200
                }
            }
            850..=899 => 304,
            900..=929 => 302,
            930..=959 => 404,
            960..=979 => 401,
            980..=989 => 400,
            990..=994 => 499,
            995..=997 => 502,
            _ => 500,
        };
        // Probes always succeed; a POST is never answered from cache.
        let status = match (path, status) {
            (6, _) => 200,
            (1 | 7, 300..=399) => 201,
            (_, s) => s,
        };
        let base = if path == 5 || path == 6 { 1 } else { 8 };
        (
            status,
            base + rng.random_range(0..120) + rng.random_range(0..4u64).pow(5),
        )
    };
    push_int(out, 10u8);
    out.push(b'.');
    push_int(out, rng.random_range(0..4u8));
    out.push(b'.');
    push_int(out, rng.random_range(0..255u8));
    out.push(b'.');
    push_int(out, rng.random_range(1..255u8));
    out.extend_from_slice(b" - - [");
    sc.stamps.clf(out);
    out.extend_from_slice(b"] \"");
    out.extend_from_slice(PATHS[path]);
    if matches!(path, 0 | 4 | 8) {
        push_int(out, rng.random_range(1..99_999u32));
    }
    out.extend_from_slice(b" HTTP/1.1\" ");
    push_int(out, status);
    out.push(b' ');
    let bytes = match status {
        304 | 204 => 0,
        _ if path == 6 => 2,
        _ if path == 5 => 184_312,
        _ => rng.random_range(60..4_800u32),
    };
    push_int(out, bytes);
    out.extend_from_slice(if path != 6 && (path == 5 || rng.random_bool(0.3)) {
        b" \"https://shop.example.com/\" \""
    } else {
        b" \"-\" \""
    });
    out.extend_from_slice(
        AGENTS[if path == 6 {
            3
        } else {
            *pick(rng, &[0, 1, 2, 4])
        }],
    );
    out.extend_from_slice(b"\" ");
    push_fixed(out, millis, 3);
    out.push(b'\n');
}

/// pino's common prefix: numeric level, epoch-ms time, pid, hostname, name.
fn pino_head(sc: &Scene, level: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"level\":");
    push_int(out, level);
    out.extend_from_slice(b",\"time\":");
    epoch_ms(sc.now, out);
    out.extend_from_slice(b",\"pid\":");
    push_int(out, CHECKOUT_PID);
    out.extend_from_slice(b",\"hostname\":\"web-1\",\"name\":\"checkout\"");
}

fn checkout(sc: &mut Scene, out: &mut Vec<u8>) {
    let roll = sc.rng.random_range(0..1000u32);
    sc.req_id += 1;
    match roll {
        0..=549 => {
            pino_head(sc, 30, out);
            out.extend_from_slice(b",\"req\":{\"id\":");
            push_int(out, sc.req_id);
            out.extend_from_slice(b",\"method\":\"");
            out.extend_from_slice(pick::<&[u8]>(
                &mut sc.rng,
                &[
                    &b"GET\",\"url\":\"/api/cart"[..],
                    b"POST\",\"url\":\"/api/checkout",
                ],
            ));
            out.extend_from_slice(b"\"},\"res\":{\"statusCode\":");
            push_int(
                out,
                if sc.rng.random_bool(0.97) {
                    200u32
                } else {
                    400
                },
            );
            out.extend_from_slice(b"},\"responseTime\":");
            push_int(out, sc.rng.random_range(3..180u32));
            out.extend_from_slice(b",\"msg\":\"request completed\"}\n");
        }
        550..=789 => {
            pino_head(sc, 30, out);
            out.extend_from_slice(b",\"order_id\":\"A-");
            push_int(out, sc.rng.random_range(100_000..999_999u32));
            out.extend_from_slice(b"\",\"amount_cents\":");
            push_int(out, sc.rng.random_range(499..49_999u32));
            out.extend_from_slice(b",\"msg\":\"order placed\"}\n");
        }
        790..=939 => {
            pino_head(sc, 20, out);
            out.extend_from_slice(b",\"items\":");
            push_int(out, sc.rng.random_range(1..9u32));
            out.extend_from_slice(b",\"msg\":\"cart loaded from cache\"}\n");
        }
        940..=989 => {
            pino_head(sc, 40, out);
            out.extend_from_slice(b",\"attempt\":");
            push_int(out, sc.rng.random_range(1..3u32));
            out.extend_from_slice(b",\"msg\":\"payment provider slow, retrying\"}\n");
        }
        _ => {
            pino_head(sc, 50, out);
            out.extend_from_slice(b",\"err\":{\"type\":\"Error\",\"message\":\"Request failed with status code 502\",\"stack\":\"Error: Request failed with status code 502\\n    at createError (/app/node_modules/axios/lib/core/createError.js:16:15)\\n    at settle (/app/node_modules/axios/lib/core/settle.js:17:12)\"},\"msg\":\"payment authorization failed\"}\n");
        }
    }
}

/// winston's `format.json()` with a timestamp: level, message, service, metadata, timestamp.
fn winston(sc: &mut Scene, level: &[u8], message: &[u8], user: u32, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"level\":\"");
    out.extend_from_slice(level);
    out.extend_from_slice(b"\",\"message\":\"");
    out.extend_from_slice(message);
    out.extend_from_slice(b"\",\"service\":\"users\",\"user_id\":\"u-");
    push_int(out, user);
    out.extend_from_slice(b"\",\"timestamp\":\"");
    sc.stamps.rfc3339_ms(sc.now, out);
    out.extend_from_slice(b"\"}\n");
}

fn users(sc: &mut Scene, out: &mut Vec<u8>) {
    let roll = sc.rng.random_range(0..1000u32);
    let user = sc.rng.random_range(10_000..99_999u32);
    let (level, message): (&[u8], &[u8]) = match roll {
        0..=599 => (b"info", b"user authenticated"),
        600..=849 => (b"info", b"session refreshed"),
        850..=949 => (b"debug", b"profile cache hit"),
        950..=989 => (b"warn", b"login rate limit approaching"),
        _ => (b"error", b"token verification failed: jwt expired"),
    };
    winston(sc, level, message, user, out);
}

fn logfmt_head(sc: &Scene, level: &[u8], caller: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"ts=");
    sc.stamps.rfc3339_ms(sc.now, out);
    out.extend_from_slice(b" level=");
    out.extend_from_slice(level);
    out.extend_from_slice(b" caller=");
    out.extend_from_slice(caller);
}

fn inventory(sc: &mut Scene, out: &mut Vec<u8>) {
    let roll = sc.rng.random_range(0..1000u32);
    if sc.spike && roll < 300 {
        logfmt_head(sc, b"error", b"store/postgres.go:112", out);
        out.extend_from_slice(b" msg=\"query failed\" err=\"pq: canceling statement due to statement timeout\" query=reserve_stock duration=");
        push_fixed(out, sc.rng.random_range(5_000_000..5_090_000), 1);
        out.extend_from_slice(b"ms\n");
        return;
    }
    match roll {
        0..=699 => {
            logfmt_head(sc, b"info", b"stock/reserve.go:88", out);
            out.extend_from_slice(b" msg=\"stock reserved\" sku=SKU-");
            push_int(out, sc.rng.random_range(1..99_999u32));
            out.extend_from_slice(b" qty=");
            push_int(out, sc.rng.random_range(1..6u32));
            out.extend_from_slice(b" warehouse=ams-1 duration=");
            push_fixed(out, sc.rng.random_range(900..40_000), 1);
            out.extend_from_slice(b"ms\n");
        }
        700..=939 => {
            logfmt_head(sc, b"debug", b"cache/lru.go:54", out);
            out.extend_from_slice(b" msg=\"cache lookup\" hit=");
            out.extend_from_slice(if sc.rng.random_bool(0.8) {
                b"true"
            } else {
                b"false"
            });
            out.extend_from_slice(b" key=sku:");
            push_int(out, sc.rng.random_range(1..99_999u32));
            out.push(b'\n');
        }
        940..=994 => {
            logfmt_head(sc, b"warn", b"store/postgres.go:97", out);
            out.extend_from_slice(b" msg=\"slow query\" query=list_stock duration=");
            push_fixed(out, sc.rng.random_range(250_000..900_000), 1);
            out.extend_from_slice(b"ms\n");
        }
        _ => {
            logfmt_head(sc, b"error", b"stock/reserve.go:102", out);
            out.extend_from_slice(
                b" msg=\"reservation failed\" err=\"insufficient stock\" sku=SKU-",
            );
            push_int(out, sc.rng.random_range(1..99_999u32));
            out.push(b'\n');
        }
    }
}

const JAVA_TIMEOUT: &[u8] = b"com.acme.payments.gateway.PaymentGatewayException: card gateway did not answer in time
\tat com.acme.payments.gateway.CardGatewayClient.charge(CardGatewayClient.java:142)
\tat com.acme.payments.service.PaymentService.charge(PaymentService.java:77)
\tat com.acme.payments.web.PaymentController.charge(PaymentController.java:51)
\tat java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)
\tat java.base/java.lang.reflect.Method.invoke(Method.java:580)
\tat org.springframework.web.method.support.InvocableHandlerMethod.doInvoke(InvocableHandlerMethod.java:255)
\tat org.springframework.web.servlet.FrameworkServlet.service(FrameworkServlet.java:885)
\tat org.apache.tomcat.util.threads.TaskThread$WrappingRunnable.run(TaskThread.java:61)
\tat java.base/java.lang.Thread.run(Thread.java:1583)
Caused by: java.net.SocketTimeoutException: Read timed out
\tat java.base/sun.nio.ch.NioSocketImpl.timedRead(NioSocketImpl.java:278)
\tat java.base/sun.nio.ch.NioSocketImpl.implRead(NioSocketImpl.java:304)
\tat java.base/java.net.Socket$SocketInputStream.read(Socket.java:1099)
\tat com.acme.payments.gateway.CardGatewayClient.charge(CardGatewayClient.java:138)
\t... 6 more
";
const JAVA_POOL: &[u8] = b"org.springframework.jdbc.CannotGetJdbcConnectionException: Failed to obtain JDBC Connection
\tat org.springframework.jdbc.datasource.DataSourceUtils.getConnection(DataSourceUtils.java:84)
\tat org.springframework.jdbc.core.JdbcTemplate.execute(JdbcTemplate.java:653)
\tat com.acme.payments.ledger.LedgerRepository.append(LedgerRepository.java:63)
\tat com.acme.payments.service.PaymentService.record(PaymentService.java:102)
\tat java.base/java.lang.Thread.run(Thread.java:1583)
Caused by: java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30000ms (total=10, active=10, idle=0, waiting=4)
\tat com.zaxxer.hikari.pool.HikariPool.createTimeoutException(HikariPool.java:686)
\tat com.zaxxer.hikari.pool.HikariPool.getConnection(HikariPool.java:179)
\tat com.zaxxer.hikari.HikariDataSource.getConnection(HikariDataSource.java:128)
\tat org.springframework.jdbc.datasource.DataSourceUtils.fetchConnection(DataSourceUtils.java:160)
\t... 4 more
";

fn payments(sc: &mut Scene, out: &mut Vec<u8>) {
    let roll = sc.rng.random_range(0..1000u32);
    let thread = sc.rng.random_range(1..11u32);
    let head = |sc: &Scene, out: &mut Vec<u8>, level: &[u8], logger: &[u8]| {
        sc.stamps.log4j(sc.now, out);
        out.push(b' ');
        out.extend_from_slice(level);
        out.extend_from_slice(b" [http-nio-8080-exec-");
        push_int(out, thread);
        out.extend_from_slice(b"] ");
        out.extend_from_slice(logger);
        out.extend_from_slice(b" - ");
    };
    let order = sc.rng.random_range(100_000..999_999u32);
    match roll {
        0..=749 => {
            head(sc, out, b"INFO ", b"c.a.p.web.PaymentController");
            out.extend_from_slice(b"charge accepted for order A-");
            push_int(out, order);
            out.extend_from_slice(b" amount=");
            push_fixed(out, sc.rng.random_range(4_990..499_990), 2);
            out.extend_from_slice(b" EUR\n");
        }
        750..=929 => {
            head(sc, out, b"DEBUG", b"c.a.p.ledger.LedgerRepository");
            out.extend_from_slice(b"ledger entry appended for order A-");
            push_int(out, order);
            out.push(b'\n');
        }
        930..=989 => {
            head(sc, out, b"WARN ", b"c.a.p.gateway.CardGatewayClient");
            out.extend_from_slice(b"card gateway latency ");
            push_int(out, sc.rng.random_range(800..2_900u32));
            out.extend_from_slice(b" ms above threshold\n");
        }
        _ => {
            let timeout = roll < 996;
            let logger: &[u8] = if timeout {
                b"c.a.p.gateway.CardGatewayClient"
            } else {
                b"c.a.p.ledger.LedgerRepository"
            };
            head(sc, out, b"ERROR", logger);
            out.extend_from_slice(b"charge failed for order A-");
            push_int(out, order);
            out.push(b'\n');
            out.extend_from_slice(if timeout { JAVA_TIMEOUT } else { JAVA_POOL });
        }
    }
}

fn syslog(sc: &mut Scene, out: &mut Vec<u8>) {
    sc.stamps.bsd(out);
    out.extend_from_slice(b" web-1 ");
    let rng = &mut sc.rng;
    match rng.random_range(0..100u32) {
        0..=34 => {
            out.extend_from_slice(b"CRON[");
            push_int(out, rng.random_range(20_000..60_000u32));
            out.extend_from_slice(
                b"]: (root) CMD (command -v debian-sa1 > /dev/null && debian-sa1 1 1)\n",
            );
        }
        35..=59 => {
            out.extend_from_slice(b"systemd[1]: Started session-");
            push_int(out, rng.random_range(1_000..9_999u32));
            out.extend_from_slice(b".scope - Session of User deploy.\n");
        }
        60..=79 => {
            out.extend_from_slice(b"sshd[");
            push_int(out, rng.random_range(20_000..60_000u32));
            out.extend_from_slice(b"]: Accepted publickey for deploy from 10.0.0.5 port ");
            push_int(out, rng.random_range(32_768..60_999u32));
            out.extend_from_slice(b" ssh2: ED25519 SHA256:Qm9vQm9vQm9vQm9vQm9vQm9vQm9vQm9v\n");
        }
        80..=94 => {
            out.extend_from_slice(b"sshd[");
            push_int(out, rng.random_range(20_000..60_000u32));
            out.extend_from_slice(b"]: Invalid user admin from 198.51.100.");
            push_int(out, rng.random_range(1..255u32));
            out.extend_from_slice(b" port ");
            push_int(out, rng.random_range(32_768..60_999u32));
            out.push(b'\n');
        }
        _ => {
            out.extend_from_slice(b"kernel: [");
            push_fixed(out, (sc.now / 1_000_000).rem_euclid(100_000_000) as u64, 3);
            out.extend_from_slice(b"] TCP: request_sock_TCP: Possible SYN flooding on port 443. Sending cookies.  Check SNMP counters.\n");
        }
    }
}
