//! The Jinja templates. Release builds carry them inside the binary; debug builds read
//! them from `templates/` in the source tree at each render, so that an edit shows on reload.

use std::sync::Arc;

use minijinja::{Environment, Value};

/// Every template, as built into the binary.
const BUILT_IN: &[(&str, &str)] = &[
    ("base.html", include_str!("../../templates/base.html")),
    ("_posts.html", include_str!("../../templates/_posts.html")),
    ("_pages.html", include_str!("../../templates/_pages.html")),
    ("_field.html", include_str!("../../templates/_field.html")),
    ("index.html", include_str!("../../templates/index.html")),
    ("user.html", include_str!("../../templates/user.html")),
    ("login.html", include_str!("../../templates/login.html")),
    ("logout.html", include_str!("../../templates/logout.html")),
    (
        "register.html",
        include_str!("../../templates/register.html"),
    ),
    ("400.html", include_str!("../../templates/400.html")),
    (
        "rejected.html",
        include_str!("../../templates/rejected.html"),
    ),
    ("404.html", include_str!("../../templates/404.html")),
    ("500.html", include_str!("../../templates/500.html")),
];

#[derive(Clone)]
pub struct Templates {
    built_in: Arc<Environment<'static>>,
    from_disk: bool,
}

impl Templates {
    pub fn new() -> Templates {
        let mut env = environment();
        for (name, source) in BUILT_IN {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name} does not compile: {e}"));
        }
        Templates {
            built_in: Arc::new(env),
            from_disk: cfg!(debug_assertions),
        }
    }

    pub fn render(&self, name: &str, context: Value) -> Result<String, minijinja::Error> {
        if self.from_disk {
            let mut env = environment();
            env.set_loader(|name| {
                let path = concat!(env!("CARGO_MANIFEST_DIR"), "/templates/").to_string() + name;
                match std::fs::read_to_string(path) {
                    Ok(source) => Ok(Some(source)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("cannot read template {name}: {e}"),
                    )),
                }
            });
            return env.get_template(name)?.render(context);
        }
        self.built_in.get_template(name)?.render(context)
    }
}

/// Block tags leave no blank lines behind.
fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_syntax(
        minijinja::syntax::SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("the default delimiters are valid"),
    );
    env
}

impl Default for Templates {
    fn default() -> Self {
        Templates::new()
    }
}
