//! The site under an attacker's hand: a flood of registrations, forged logouts, addresses
//! and usernames made to deceive, a proxy that terminates TLS. Nothing of it may take the
//! server's memory, log a visitor out, or let a name pass for another's.

mod support;

use dbmigrate::on_each_database;
use dbmigrate::testing::TestDb;

use support::site::{Client, rows, signed_up, start, visitor, visitor_from, visitor_with};

/// Behind a proxy on this machine, whose `X-Forwarded-For` says who each client is.
const BEHIND_A_PROXY: (&str, &str) = ("TRUSTED_PROXIES", "127.0.0.1");

fn error_of(reply: &support::site::Reply) -> String {
    let start = reply.body.find("class=\"error\"").unwrap_or(0);
    reply.body[start..].chars().take(200).collect()
}

#[test]
fn a_registration_flood_from_many_addresses_keeps_the_servers_memory_bounded() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let (server, _dir) = start(&db, &[BEHIND_A_PROXY]);
    let flooders: Vec<Client> = (0..64)
        .map(|n| visitor_from(&server, &format!("198.51.100.{n}")))
        .collect();
    let reader = visitor(&server);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let flooding: Vec<_> = flooders
            .iter()
            .enumerate()
            .map(|(n, client)| {
                scope.spawn(move || {
                    (0..2)
                        .map(|round| {
                            let name = format!("flood{n}x{round}");
                            client
                                .register(&name, &format!("{name}@example.com"), "pw")
                                .status
                        })
                        .collect::<Vec<u16>>()
                })
            })
            .collect();
        assert_eq!(
            reader.get("/index").status,
            200,
            "a visitor is served meanwhile"
        );
        flooding
            .into_iter()
            .flat_map(|f| f.join().unwrap())
            .collect()
    });
    let peak = server.peak_memory_mib();
    assert!(
        statuses.iter().all(|s| matches!(s, 303 | 503)),
        "registered, or told the server is busy: {statuses:?}"
    );
    assert!(statuses.contains(&303), "{statuses:?}");
    assert!(
        peak <= 200,
        "64 clients registering at once took the server to {peak} MiB"
    );
    let registered = statuses.iter().filter(|s| **s == 303).count() as i64;
    assert_eq!(rows(&db, "user"), registered);
}

#[test]
fn one_address_registers_a_few_accounts_then_is_told_to_wait() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let (server, _dir) = start(&db, &[BEHIND_A_PROXY]);
    let client = visitor_from(&server, "203.0.113.5");
    for n in 0..20 {
        let name = format!("sock{n}");
        let reply = client.register(&name, &format!("{name}@example.com"), "pw");
        assert_eq!(reply.status, 303, "{}", reply.body);
    }
    let refused = client.register("sock20", "sock20@example.com", "pw");
    assert_eq!(refused.status, 429);
    assert!(
        refused
            .body
            .contains("Too many registrations from your address"),
        "{}",
        refused.body
    );
    assert!(refused.headers.get("retry-after").is_some());
    let elsewhere = visitor_from(&server, "203.0.113.6");
    assert_eq!(
        elsewhere
            .register("sock20", "sock20@example.com", "pw")
            .status,
        303
    );
    assert_eq!(rows(&db, "user"), 21);
}

on_each_database! {
    fn a_username_that_looks_like_one_taken_is_refused(db: &TestDb) {
        let (server, _dir) = start(db, &[]);
        let client = visitor(&server);
        assert_eq!(client.register("alice", "alice@example.com", "pw").status, 303);
        for (lookalike, why) in [
            ("\u{430}lice", "a Cyrillic а"),
            ("al\u{456}ce", "a Ukrainian і"),
            ("a1ice", "a digit one for an l"),
        ] {
            let refused = client.register(lookalike, &format!("{}@example.com", lookalike.len()), "pw");
            assert_eq!(refused.status, 200, "{why}: {}", refused.body);
            assert!(
                refused.body.contains("this one looks like a username already taken"),
                "{why}: {}",
                error_of(&refused)
            );
        }
        let fullwidth = client.register("ａｌｉｃｅ", "wide@example.com", "pw");
        assert!(fullwidth.body.contains("Please use a different username."), "{}", error_of(&fullwidth));
        for (hidden, why) in [("ali\u{200b}ce", "a zero width space"), ("\u{202e}ecila", "a right-to-left override")] {
            let refused = client.register(hidden, "hidden@example.com", "pw");
            assert_eq!(refused.status, 200);
            assert!(refused.body.contains("invisible characters"), "{why}: {}", error_of(&refused));
        }
        assert_eq!(rows(db, "user"), 1, "no lookalike was stored");
        assert_eq!(client.register("alicia", "alicia@example.com", "pw").status, 303);
    }

    fn a_user_made_in_the_shell_is_looked_alike_too(db: &TestDb) {
        let (server, dir) = start(db, &[]);
        let made = support::microblog(
            dir.path(),
            Some(&db.url_string()),
            &["shell", "-c", r#"db.session.add(User(#{username: "bob", email: "bob@example.com"})); db.session.commit();"#],
        );
        assert!(made.status.success(), "{made:?}");
        let refused = visitor(&server).register("b\u{43e}b", "other@example.com", "pw");
        assert!(refused.body.contains("looks like a username already taken"), "{}", error_of(&refused));
        assert_eq!(rows(db, "user"), 1);
    }

    fn users_made_elsewhere_are_given_their_keys_when_the_server_starts(db: &TestDb) {
        let dir = tempfile::tempdir().unwrap();
        let made = support::microblog(
            dir.path(),
            Some(&db.url_string()),
            &["shell", "-c", r#"db.session.add(User(#{username: "carol", email: "carol@example.com"})); db.session.commit();"#],
        );
        assert!(made.status.success(), "{made:?}");
        assert_eq!(keyless_users(db), 1, "the shell does not compute the key");
        let _server = support::Server::start(dir.path(), &db.url_string(), &[]);
        let started = std::time::Instant::now();
        while keyless_users(db) > 0 {
            assert!(started.elapsed() < std::time::Duration::from_secs(10), "no key given");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

fn keyless_users(db: &TestDb) -> i64 {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = dbmigrate::connect(&db.url).unwrap();
    let user = db.dialect().quote("user");
    diesel::sql_query(format!(
        "SELECT COUNT(*) AS n FROM {user} WHERE username_key IS NULL"
    ))
    .get_result::<Count>(&mut conn)
    .unwrap()
    .n
}

#[test]
fn addresses_a_mail_server_would_refuse_are_refused() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let (server, _dir) = start(&db, &[]);
    let client = visitor(&server);
    for (n, address) in [
        "a<b>@x.org",
        "\"><x>@x.org",
        "a..b@x.org",
        ".a@x.org",
        "a,b@x.org",
    ]
    .into_iter()
    .enumerate()
    {
        let refused = client.register(&format!("mail{n}"), address, "pw");
        assert_eq!(refused.status, 200, "{address}");
        assert!(
            refused.body.contains("Invalid email address."),
            "{address}: {}",
            error_of(&refused)
        );
    }
    assert_eq!(rows(&db, "user"), 0);
}

#[test]
fn a_link_cannot_log_a_visitor_out_only_the_sites_own_form_can() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let (server, _dir) = start(&db, &[]);
    let ann = signed_up(&server, "ann");
    let asked = ann.get("/logout");
    assert_eq!(asked.status, 200, "a page that asks first");
    assert!(
        ann.get("/index").body.contains("Hi, ann!"),
        "still logged in"
    );
    let forged = ann.post("/logout", &[("csrf_token", "forged")]);
    assert_eq!(forged.status, 400);
    assert!(
        ann.get("/index").body.contains("Hi, ann!"),
        "still logged in"
    );
    let home = ann.follow(ann.log_out());
    assert!(!home.body.contains("Hi, ann!"), "{}", home.body);
    assert_eq!(
        visitor(&server).get("/logout").location.as_deref(),
        Some("/index")
    );
}

#[test]
fn the_session_cookie_is_secure_where_a_trusted_proxy_says_https() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let (server, _dir) = start(&db, &[BEHIND_A_PROXY]);
    let secure = |client: &Client| {
        let cookies = client.get("/login").set_cookie;
        assert!(
            !cookies.is_empty(),
            "the login page sets the session cookie"
        );
        cookies.iter().all(|c| c.contains("; Secure"))
    };
    let https = vec![("x-forwarded-proto".to_string(), "https".to_string())];
    assert!(secure(&visitor_with(&server, https.clone())));
    assert!(!secure(&visitor(&server)), "plain HTTP");
    let (untrusted, _other) = start(&db, &[]);
    assert!(
        !secure(&visitor_with(&untrusted, https)),
        "a client's own claim counts for nothing"
    );
    let (forced, _forced_dir) = start(&db, &[("SESSION_COOKIE_SECURE", "true")]);
    assert!(secure(&visitor(&forced)));
}

#[test]
fn a_next_outside_ascii_is_percent_encoded_in_the_redirect() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let (server, _dir) = start(&db, &[]);
    signed_up(&server, "zoë");
    let client = visitor(&server);
    let token = client.get("/login").csrf_token();
    let reply = client.post(
        "/login?next=%2Fuser%2Fzo%C3%AB",
        &[
            ("csrf_token", token.as_str()),
            ("username", "zoë"),
            ("password", "cat"),
        ],
    );
    assert_eq!(reply.location.as_deref(), Some("/user/zo%C3%AB"));
}
