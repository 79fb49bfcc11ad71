//! The web site over HTTP: a real server (the binary) on a random port with a database of
//! its own, on each database; a client that keeps cookies, as a browser does.

mod support;

use dbmigrate::on_each_database;
use dbmigrate::testing::TestDb;

use support::site::{copy_of, post_raw, reply, rows, signed_up, start, visitor};

on_each_database! {
    fn a_visitor_registers_logs_in_posts_and_sees_the_post_everywhere(db: &TestDb) {
        let (server, _dir) = start(db, &[]);
        let client = visitor(&server);
        let registered = client.register("john", "john@example.com", "cat");
        let login_page = client.follow(registered);
        assert!(login_page.body.contains("Congratulations, you are now a registered user!"), "{}", login_page.body);
        let wrong = client.follow(client.log_in("john", "dog"));
        assert!(wrong.body.contains("Invalid username or password"));
        let home = client.follow(client.log_in("john", "cat"));
        assert!(home.body.contains("Hi, john!"), "{}", home.body);
        assert!(home.body.contains("maxlength=\"140\"></textarea>"), "an empty form: {}", home.body);

        let posted = client.follow(client.write("my first post!"));
        assert!(posted.body.contains("Your post is now live!"));
        assert!(posted.body.contains("<p>my first post!</p>"), "{}", posted.body);
        assert!(posted.body.contains("<a class=\"author\" href=\"/user/john\">john</a>"));
        let profile = client.get("/user/john");
        assert_eq!(profile.status, 200);
        assert!(profile.body.contains("User: john") && profile.body.contains("my first post!"));
        assert!(profile.body.contains(" UTC</time>"), "{}", profile.body);

        let home = client.follow(client.log_out());
        assert!(home.body.contains("href=\"/login\"") && !home.body.contains("Hi, john!"));
        assert!(home.body.contains("my first post!"), "anyone can read the posts");
        assert_eq!((rows(db, "user"), rows(db, "post")), (1, 1));
    }

    fn logging_out_ends_every_copy_of_the_session_on_every_device(db: &TestDb) {
        let (server, _dir) = start(db, &[]);
        let laptop = signed_up(&server, "ann");
        let phone = visitor(&server);
        assert_eq!(phone.log_in("ann", "cat").location.as_deref(), Some("/index"));
        let stolen = copy_of(&laptop, &server);
        assert!(stolen.get("/index").body.contains("Hi, ann!"), "the copy works until logout");
        let tokens = [stolen.get("/index").csrf_token(), phone.get("/index").csrf_token()];

        laptop.follow(laptop.log_out());
        for (client, token) in [&stolen, &phone].into_iter().zip(tokens) {
            assert!(!client.get("/index").body.contains("Hi, ann!"));
            let refused = client.post("/index", &[("csrf_token", &token), ("post", "not mine")]);
            assert_eq!(refused.status, 303, "{}", refused.body);
            assert!(refused.location.unwrap().starts_with("/login"));
        }
        assert_eq!(rows(db, "post"), 0);

        assert_eq!(phone.log_in("ann", "cat").location.as_deref(), Some("/index"));
        assert_eq!(phone.write("mine").status, 303);
        assert_eq!(rows(db, "post"), 1);
    }

    fn a_new_password_ends_the_sessions_made_with_the_old_one(db: &TestDb) {
        let (server, _dir) = start(db, &[]);
        let client = signed_up(&server, "ann");
        let bystander = signed_up(&server, "bob");
        let mut conn = dbmigrate::connect(&db.url).unwrap();
        let sql = format!(
            "UPDATE {} SET password_hash = 'set elsewhere' WHERE username = 'ann'",
            db.dialect().quote("user")
        );
        diesel::connection::SimpleConnection::batch_execute(&mut conn, &sql).unwrap();
        assert!(!client.get("/index").body.contains("Hi, ann!"));
        assert!(bystander.get("/index").body.contains("Hi, bob!"));
    }

    fn anonymous_pages_show_every_change_wherever_it_was_made(db: &TestDb) {
        let (server, _dir) = start(db, &[]);
        let reader = visitor(&server);
        let writer = signed_up(&server, "john");
        assert!(reader.get("/index").body.contains("No posts yet."));
        assert!(reader.get("/user/john").body.contains("No posts yet."));
        writer.write("through the site");
        assert!(reader.get("/index").body.contains("through the site"));
        assert!(reader.get("/user/john").body.contains("through the site"));

        let mut conn = dbmigrate::connect(&db.url).unwrap();
        let post = db.dialect().quote("post");
        diesel::connection::SimpleConnection::batch_execute(
            &mut conn,
            &format!("INSERT INTO {post} (body, timestamp, user_id) VALUES ('from another program', '2030-01-01 00:00:00', 1)"),
        )
        .unwrap();
        if db.dialect() != dbmigrate::Dialect::Sqlite {
            // Another program's change shows within the bound instances keep to there.
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
        assert!(reader.get("/index").body.contains("from another program"));
        assert!(reader.get("/user/john").body.contains("from another program"));
    }

    fn bad_registrations_show_their_error_and_store_nothing(db: &TestDb) {
        let (server, _dir) = start(db, &[]);
        visitor(&server).register("john", "john@example.com", "cat");
        let client = visitor(&server);
        for (username, email, expected) in [
            ("john", "other@example.com", "Please use a different username."),
            ("susan", "john@example.com", "Please use a different email address."),
            ("susan", "not-an-email", "Invalid email address."),
            ("", "susan@example.com", "This field is required."),
            (&"x".repeat(65), "susan@example.com", "Field must be between 1 and 64 characters long."),
        ] {
            let refused = client.register(username, email, "cat");
            assert_eq!(refused.status, 200, "{expected}");
            assert!(refused.body.contains(expected), "{expected}: {}", refused.body);
            assert!(refused.body.contains(&format!("value=\"{email}\"")), "the input is kept: {}", refused.body);
        }
        let token = client.get("/register").csrf_token();
        let mismatch = client.post("/register", &[("csrf_token", &token), ("username", "susan"), ("email", "s@example.com"), ("password", "a"), ("password2", "b")]);
        assert!(mismatch.body.contains("Field must be equal to password."));
        assert_eq!(rows(db, "user"), 1);
    }

    fn bad_posts_show_their_error_keep_the_input_and_store_nothing(db: &TestDb) {
        let (server, _dir) = start(db, &[]);
        let client = signed_up(&server, "john");
        let empty = client.write("   ");
        assert!(empty.body.contains("This field is required."), "{}", empty.body);
        let long = "y".repeat(141);
        let too_long = client.write(&long);
        assert!(too_long.body.contains("Field must be between 1 and 140 characters long."));
        assert!(too_long.body.contains(&format!(">{long}</textarea>")), "the input is kept");
        assert_eq!(rows(db, "post"), 0);
        let exactly = client.write(&"z".repeat(140));
        assert_eq!(exactly.status, 303);
        assert_eq!(rows(db, "post"), 1);
    }

    fn a_form_without_this_visitors_csrf_token_is_refused(db: &TestDb) {
        let (server, _dir) = start(db, &[]);
        let client = signed_up(&server, "john");
        let forged = client.post("/index", &[("csrf_token", "0000"), ("post", "forged")]);
        assert_eq!(forged.status, 400);
        let missing = client.post("/index", &[("post", "forged")]);
        assert_eq!(missing.status, 400);
        let stranger = visitor(&server);
        let strangers_token = stranger.get("/register").csrf_token();
        let borrowed = client.post("/index", &[("csrf_token", &strangers_token), ("post", "forged")]);
        assert_eq!(borrowed.status, 400);
        let no_token = visitor(&server).post("/register", &[("username", "eve"), ("email", "eve@example.com"), ("password", "x"), ("password2", "x")]);
        assert_eq!(no_token.status, 400);
        assert_eq!((rows(db, "post"), rows(db, "user")), (0, 1));

        // A page elsewhere logging a visitor in as the attacker, to read what they then type.
        let victim = visitor(&server);
        victim.get("/login");
        let planted = victim.post("/login", &[("username", "john"), ("password", "cat")]);
        assert_eq!(planted.status, 400);
        assert!(!victim.get("/index").body.contains("Hi, john!"));
    }

    fn html_and_sql_in_input_are_only_text(db: &TestDb) {
        let (server, _dir) = start(db, &[]);
        let client = signed_up(&server, "john");
        client.write("<script>alert('x')</script> & \"quotes\"");
        let home = client.get("/index");
        assert!(html_text(&home.body).contains("<script>alert('x')</script> & \"quotes\""), "{}", home.body);
        assert!(!home.body.contains("<script>"));

        let sneaky = "o'brien\"; DROP TABLE post; --";
        let other = visitor(&server);
        assert_eq!(other.register(sneaky, "ob@example.com", "pw").status, 303);
        assert_eq!(other.log_in("' OR '1'='1", "' OR '1'='1").location.as_deref(), Some("/login"));
        assert_eq!(other.log_in(sneaky, "pw").location.as_deref(), Some("/index"));
        let page = other.get(&format!("/user/{}", sneaky.replace(' ', "%20").replace('"', "%22")));
        assert_eq!(page.status, 200, "{}", page.body);
        assert_eq!(other.get("/user/%27%20OR%20%271%27%3D%271").status, 404);
        assert_eq!(other.get("/index?page=1%20OR%201=1").status, 200);
        assert_eq!((rows(db, "user"), rows(db, "post")), (2, 1));

        // A username is shown on every page its owner visits, and next to each post.
        let marked_up = "<i>mallory</i>";
        let mallory = visitor(&server);
        assert_eq!(mallory.register(marked_up, "m@example.com", "pw").status, 303);
        assert_eq!(mallory.log_in(marked_up, "pw").location.as_deref(), Some("/index"));
        mallory.write("hello");
        for page in [mallory.get("/index"), mallory.get("/user/%3Ci%3Emallory%3C%2Fi%3E"), visitor(&server).get("/index")] {
            assert_eq!(page.status, 200);
            assert!(!page.body.contains("<i>mallory"), "{}", page.body);
            assert!(html_text(&page.body).contains("<i>mallory</i>"), "{}", page.body);
        }
    }
}

#[test]
fn posts_are_paged_newest_first_with_links_both_ways() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let (server, _dir) = start(&db, &[("POSTS_PER_PAGE", "2")]);
    let client = signed_up(&server, "john");
    for body in ["first", "second", "third"] {
        assert_eq!(client.write(body).status, 303);
    }
    let first_page = client.get("/index");
    let (third, second) = (
        first_page.body.find("third").unwrap(),
        first_page.body.find("second").unwrap(),
    );
    assert!(third < second, "newest first");
    assert!(!first_page.body.contains(">first<"));
    assert!(
        first_page
            .body
            .contains("href=\"/index?page=2\">Older posts")
    );
    let second_page = client.get("/index?page=2");
    assert!(
        second_page.body.contains("<p>first</p>")
            && second_page
                .body
                .contains("href=\"/index\">&larr; Newer posts")
    );
    assert!(
        client
            .get("/user/john?page=2")
            .body
            .contains("<p>first</p>")
    );
    assert!(
        client
            .get("/index?page=nonsense")
            .body
            .contains("<p>third</p>"),
        "a bad page number is page 1"
    );
}

#[test]
fn errors_are_shown_in_the_sites_layout_without_internals() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let (server, _dir) = start(&db, &[]);
    let client = visitor(&server);
    let missing = client.get("/user/nobody");
    assert_eq!(missing.status, 404);
    assert!(missing.body.contains("Not Found") && missing.body.contains("/static/style.css"));
    assert_eq!(client.get("/no/such/page").status, 404);

    let mut conn = dbmigrate::connect(&db.url).unwrap();
    diesel::connection::SimpleConnection::batch_execute(&mut conn, "DROP TABLE post").unwrap();
    let broken = client.get("/index");
    assert_eq!(broken.status, 500);
    assert!(broken.body.contains("An unexpected error has occurred"));
    assert!(
        !broken.body.to_lowercase().contains("no such table"),
        "{}",
        broken.body
    );
}

#[test]
fn the_session_cookie_is_http_only_lax_and_lasts_only_when_remembered() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let (server, _dir) = start(&db, &[]);
    visitor(&server).register("john", "john@example.com", "cat");
    let client = visitor(&server);
    let plain = client.log_in("john", "cat");
    let cookie = plain.set_cookie.join("\n");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Max-Age"), "{cookie}");
    assert!(!cookie.contains("cat"), "no password in the cookie");

    let client = visitor(&server);
    let token = client.get("/login").csrf_token();
    let remembered = client.post(
        "/login",
        &[
            ("csrf_token", &token),
            ("username", "john"),
            ("password", "cat"),
            ("remember_me", "y"),
        ],
    );
    assert!(remembered.set_cookie.join("\n").contains("Max-Age=2592000"));
}

#[test]
fn the_stylesheet_is_served_and_the_server_stops_cleanly_on_sigterm() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let (server, _dir) = start(&db, &[]);
    let css = visitor(&server).get("/static/style.css");
    assert_eq!(css.status, 200);
    assert!(css.body.contains("body {"));
    assert!(server.terminate().success());
}

#[test]
fn every_response_carries_the_security_headers() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let (server, _dir) = start(&db, &[]);
    let client = visitor(&server);
    let replies = [
        ("a page", client.get("/index")),
        ("the 404 page", client.get("/nowhere")),
        ("the stylesheet", client.get("/static/style.css")),
        ("a refused form", client.post("/register", &[])),
        ("a redirect", client.get("/logout")),
    ];
    for (what, reply) in replies {
        for (name, value) in [
            ("content-security-policy", "frame-ancestors 'none'"),
            ("x-content-type-options", "nosniff"),
            ("x-frame-options", "DENY"),
            ("referrer-policy", "same-origin"),
        ] {
            let header = reply
                .headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_string());
            assert!(
                header.as_deref().is_some_and(|h| h.contains(value)),
                "{what}: {name} is {header:?}"
            );
        }
    }
}

#[test]
fn after_logging_in_next_leads_only_to_a_path_of_this_site() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let (server, _dir) = start(&db, &[]);
    signed_up(&server, "ann");
    let log_in_to = |next: &str| {
        let client = visitor(&server);
        let form = client.get(&format!("/login?next={next}"));
        assert_eq!(
            form.status, 200,
            "the login page for next={next}: {}",
            form.body
        );
        client
            .post(
                &format!("/login?next={next}"),
                &[
                    ("csrf_token", &form.csrf_token()),
                    ("username", "ann"),
                    ("password", "cat"),
                ],
            )
            .location
    };
    for elsewhere in [
        "/%09/evil.example",
        "/%0A/evil.example",
        "/%0D%0ASet-Cookie:%20x=1",
        "//evil.example",
        "https://evil.example",
        "/%5Cevil.example",
    ] {
        assert_eq!(
            log_in_to(elsewhere).as_deref(),
            Some("/index"),
            "next={elsewhere}"
        );
    }
    assert_eq!(log_in_to("/user/ann").as_deref(), Some("/user/ann"));
}

on_each_database! {
    fn a_nul_character_anywhere_is_an_answer_not_a_failure(db: &TestDb) {
        let (server, _dir) = start(db, &[]);
        let client = signed_up(&server, "ann");
        let written = client.write("a\0b");
        assert_eq!(written.status, 200, "{}", written.body);
        assert!(written.body.contains("cannot hold the NUL character"), "{}", written.body);
        assert_eq!(client.get("/user/a%00b").status, 404);
        let stranger = visitor(&server);
        let login = stranger.log_in("ann\0", "cat");
        assert_eq!(login.status, 200, "{}", login.body);
        assert!(login.body.contains("cannot hold the NUL character"), "{}", login.body);
        let register = stranger.register("bob\0", "bob@example.com", "cat");
        assert_eq!(register.status, 200, "{}", register.body);
        assert_eq!(rows(db, "user"), 1);
        assert_eq!(rows(db, "post"), 0);
    }
}

#[test]
fn what_the_framework_refuses_is_shown_in_the_sites_layout_with_its_status() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let (server, _dir) = start(&db, &[]);
    let client = visitor(&server);
    let json = reply(
        client
            .agent
            .post(&format!("{}/login", client.base))
            .header("Content-Type", "application/json")
            .send("{}"),
    );
    assert_eq!(json.status, 415);
    assert!(
        json.body.contains("<title>") && json.body.contains("Request not understood"),
        "{}",
        json.body
    );
    let too_much = post_raw(&server, "/register", 3 * 1024 * 1024);
    assert!(too_much.starts_with("HTTP/1.1 413"), "{too_much}");
    assert!(too_much.contains("Too much sent"), "{too_much}");
}

#[test]
fn password_guessing_is_stopped_with_the_same_answer_for_known_and_unknown_usernames() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let (server, _dir) = start(&db, &[]);
    signed_up(&server, "ann");
    let guesser = visitor(&server);
    let mut answers = Vec::new();
    for name in ["ann", "nobody"] {
        for n in 0..10 {
            let wrong = guesser.log_in(name, &format!("guess {n}"));
            assert_eq!(wrong.location.as_deref(), Some("/login"), "{}", wrong.body);
        }
        let stopped = guesser.log_in(name, "cat");
        assert_eq!(stopped.status, 429, "{}", stopped.body);
        assert!(stopped.headers.contains_key("retry-after"));
        answers.push(stopped.body.replace(name, "NAME"));
    }
    assert!(
        answers[0].contains("Too many failed logins. Try again in 15 minutes."),
        "{}",
        answers[0]
    );
    let without_token = |body: &str| body.split("csrf_token").next().unwrap().to_string();
    assert_eq!(without_token(&answers[0]), without_token(&answers[1]));
    assert!(
        !guesser.get("/index").body.contains("Hi, ann!"),
        "not even the right password gets through"
    );

    let other = signed_up(&server, "bob");
    assert!(
        other.get("/index").body.contains("Hi, bob!"),
        "other users log in as before"
    );
}

#[test]
fn messages_for_a_client_that_never_reads_them_do_not_pile_up_in_its_cookie() {
    let db = TestDb::new(dbmigrate::Dialect::Sqlite).unwrap();
    let (server, _dir) = start(&db, &[]);
    let client = signed_up(&server, "ann");
    let mut largest = 0;
    for n in 0..30 {
        let written = client.write(&format!("post {n}"));
        assert_eq!(written.status, 303, "{}", written.body);
        largest = largest.max(
            written
                .set_cookie
                .iter()
                .map(String::len)
                .max()
                .unwrap_or(0),
        );
    }
    assert!(largest < 600, "a session cookie of {largest} bytes");
}

/// The page's text as a browser reads it: character references (`&lt;`, `&#60;`, `&#x3c;`)
/// turned back into characters.
fn html_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(at) = rest.find('&') {
        text.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';').filter(|end| *end <= 10) else {
            text.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..end];
        let decoded = match name {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => name
                .strip_prefix("#x")
                .or_else(|| name.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| name.strip_prefix('#').and_then(|n| n.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                text.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                text.push('&');
                rest = &rest[1..];
            }
        }
    }
    text.push_str(rest);
    text
}
