//! The pages' templates (`templates/`), compiled into the binary by askama: Jinja's syntax,
//! each template checked at build time against the struct that fills it, and HTML-escaped
//! unless a value is marked `|safe` (only URLs this site built). A page is its content,
//! rendered first, inside the layout (`base.html`).
//!
//! They were rendered at run time before (minijinja): the views turned into template
//! values, then evaluated, took 10–13% of a logged-in page's CPU in the profiles of the
//! benchmark run of 2026-12-07.

use askama::Template;

use super::pages::Errors;

/// The layout around every page.
#[derive(Template)]
#[template(path = "base.html")]
pub struct Layout<'a> {
    /// `None`: the site's own title alone.
    pub title: Option<&'a str>,
    /// The logged-in visitor's page, for the Profile link.
    pub profile_url: Option<String>,
    /// The logged-in visitor's CSRF token, for the logout button.
    pub logout_token: String,
    pub messages: Vec<String>,
    /// The page's own HTML, rendered from its template.
    pub content: &'a str,
}

/// One post as a page shows it.
pub struct PostView {
    pub author: String,
    pub author_url: String,
    pub body: String,
    pub time: String,
    pub iso_time: String,
}

#[derive(Template)]
#[template(path = "index.html")]
pub struct IndexPage<'a> {
    /// The logged-in visitor's name, who gets the form to post.
    pub greeting: Option<&'a str>,
    pub csrf_token: String,
    pub form_post: &'a str,
    pub post_errors: &'a [String],
    pub post_max_length: usize,
    pub posts: &'a [PostView],
    pub newer_url: Option<String>,
    pub older_url: Option<String>,
}

#[derive(Template)]
#[template(path = "user.html")]
pub struct UserPage<'a> {
    pub username: &'a str,
    pub posts: &'a [PostView],
    pub newer_url: Option<String>,
    pub older_url: Option<String>,
}

/// A form's field, with the value sent back and what was wrong with it.
pub struct Field<'a> {
    pub name: &'static str,
    pub label: &'static str,
    pub value: &'a str,
    pub kind: &'static str,
    pub errors: &'a [String],
    pub autocomplete: &'static str,
}

impl<'a> Field<'a> {
    /// A text field named `name`, with `errors` found for it.
    pub fn new(name: &'static str, label: &'static str, errors: &'a Errors) -> Field<'a> {
        Field {
            name,
            label,
            value: "",
            kind: "text",
            errors: errors.get(name).map_or(&[], Vec::as_slice),
            autocomplete: "",
        }
    }

    pub fn value(self, value: &'a str) -> Field<'a> {
        Field { value, ..self }
    }

    pub fn kind(self, kind: &'static str) -> Field<'a> {
        Field { kind, ..self }
    }

    pub fn autocomplete(self, autocomplete: &'static str) -> Field<'a> {
        Field {
            autocomplete,
            ..self
        }
    }
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub action: &'a str,
    pub csrf_token: String,
    pub fields: Vec<Field<'a>>,
    pub remember_me: bool,
}

#[derive(Template)]
#[template(path = "register.html")]
pub struct RegisterPage<'a> {
    pub csrf_token: String,
    pub fields: Vec<Field<'a>>,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage {
    pub csrf_token: String,
}

#[derive(Template)]
#[template(path = "400.html")]
pub struct FormRefusedPage;

#[derive(Template)]
#[template(path = "404.html")]
pub struct NotFoundPage;

#[derive(Template)]
#[template(path = "500.html")]
pub struct FailurePage {
    pub unavailable: bool,
}

#[derive(Template)]
#[template(path = "rejected.html")]
pub struct RejectedPage<'a> {
    pub title: &'a str,
    pub explanation: &'a str,
}
