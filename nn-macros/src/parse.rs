//! Syntax only: one `Parse` impl per grammar rule of DESIGN.md. Every node
//! keeps the tokens it came from, so later errors point at the user's code.
//! Names and arguments are not interpreted here (see `check.rs`).

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{braced, parenthesized, token, Attribute, Ident, LitBool, LitFloat, LitInt, Token, Visibility};

/// `network+`
pub struct Input {
    pub networks: Vec<Network>,
}

/// `attribute* visibility? 'struct' IDENT '(' shape '->' output ')' '{' items '}'`
pub struct Network {
    pub attrs: Vec<Attribute>,
    pub vis: Visibility,
    pub ident: Ident,
    pub input: Shape,
    /// The output width: per sample, or per time step after `seq`.
    pub output: Int,
    /// The `seq` of `-> seq M`: one output per time step.
    pub per_step: Option<Span>,
    pub items: Items,
}

/// An integer literal with its value and where it was written.
#[derive(Clone, Copy)]
pub struct Int {
    pub value: u64,
    pub span: Span,
}

/// `INT | 'seq' INT | '(' INT ',' INT ',' INT ')' | 'tokens' INT`
pub enum Shape {
    Vector(Int),
    Seq {
        keyword: Span,
        width: Int,
    },
    Image {
        channels: Int,
        height: Int,
        width: Int,
    },
    /// Token ids below `vocab`, one per time step.
    Tokens {
        keyword: Span,
        vocab: Int,
    },
}

impl Shape {
    /// The `seq` or `tokens` keyword of a sequence input.
    pub fn sequence_keyword(&self) -> Option<Span> {
        match self {
            Shape::Seq { keyword, .. } | Shape::Tokens { keyword, .. } => Some(*keyword),
            Shape::Vector(_) | Shape::Image { .. } => None,
        }
    }
}

/// `'{' items '}'`: the item list of a network or block body.
pub struct Items {
    pub list: Vec<Item>,
    /// The braces, for errors about the list as a whole (an empty body).
    pub span: Span,
}

/// `IDENT ('(' args ')')? ('{' items '}')?`
pub struct Item {
    pub name: Ident,
    pub args: Option<Args>,
    pub body: Option<Items>,
}

/// `'(' args ')'`: positional values, then `name = value` pairs.
pub struct Args {
    pub list: Vec<Arg>,
    /// The parentheses, for errors about the argument list as a whole.
    pub span: Span,
}

pub struct Arg {
    pub key: Option<Ident>,
    pub value: Value,
}

/// An argument value: a number, a boolean, or a name with optional
/// arguments (`he_normal`, `normal(0.02)`, `projection`).
pub enum Value {
    Number { value: f64, integer: Option<u64>, text: String, span: Span },
    Bool(LitBool),
    Name { name: Ident, args: Option<Args> },
}

impl Value {
    pub fn span(&self) -> Span {
        match self {
            Value::Number { span, .. } => *span,
            Value::Bool(b) => b.span,
            Value::Name { name, args: None } => name.span(),
            Value::Name { name, args: Some(a) } => name.span().join(a.span).unwrap_or_else(|| name.span()),
        }
    }

    /// How the value was written, for messages.
    pub fn describe(&self) -> String {
        match self {
            Value::Number { text, .. } => format!("`{text}`"),
            Value::Bool(b) => format!("`{}`", b.value),
            Value::Name { name, .. } => format!("`{name}`"),
        }
    }
}

impl Parse for Input {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut networks = Vec::new();
        while !input.is_empty() {
            networks.push(input.parse()?);
        }
        if networks.is_empty() {
            return Err(syn::Error::new(
                Span::call_site(),
                "`network!` needs at least one network: `pub struct Name(4 -> 2) { dense(2) }`",
            ));
        }
        Ok(Input { networks })
    }
}

impl Parse for Network {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        input.parse::<Token![struct]>()?;
        let ident = input.parse()?;
        let shape;
        parenthesized!(shape in input);
        let in_shape = shape.parse()?;
        shape.parse::<Token![->]>()?;
        let per_step = if shape.peek(Ident) {
            let keyword: Ident = shape.parse()?;
            if keyword != "seq" {
                return Err(syn::Error::new(
                    keyword.span(),
                    format!("expected an output width or `seq M` (an output per time step), found `{keyword}`"),
                ));
            }
            Some(keyword.span())
        } else {
            None
        };
        let output = shape.parse()?;
        if !shape.is_empty() {
            return Err(shape.error("expected `)` after the output width: `(IN -> OUT)`"));
        }
        let items = input.parse()?;
        Ok(Network { attrs, vis, ident, input: in_shape, output, per_step, items })
    }
}

impl Parse for Int {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let lit: LitInt = input.parse()?;
        Ok(Int { value: lit.base10_parse()?, span: lit.span() })
    }
}

impl Parse for Shape {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(token::Paren) {
            let content;
            parenthesized!(content in input);
            let channels = content.parse()?;
            content.parse::<Token![,]>()?;
            let height = content.parse()?;
            content.parse::<Token![,]>()?;
            let width = content.parse()?;
            content.parse::<Option<Token![,]>>()?;
            if !content.is_empty() {
                return Err(content.error("an image shape is `(channels, height, width)`"));
            }
            return Ok(Shape::Image { channels, height, width });
        }
        if input.peek(Ident) {
            let keyword: Ident = input.parse()?;
            if keyword == "tokens" {
                return Ok(Shape::Tokens { keyword: keyword.span(), vocab: input.parse()? });
            }
            if keyword != "seq" {
                return Err(syn::Error::new(
                    keyword.span(),
                    format!("expected an input width, `seq N`, `tokens V` or `(C, H, W)`, found `{keyword}`"),
                ));
            }
            return Ok(Shape::Seq { keyword: keyword.span(), width: input.parse()? });
        }
        Ok(Shape::Vector(input.parse()?))
    }
}

impl Parse for Items {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let content;
        let brace = braced!(content in input);
        let list = Punctuated::<Item, Token![,]>::parse_terminated(&content)?;
        Ok(Items { list: list.into_iter().collect(), span: brace.span.join() })
    }
}

impl Parse for Item {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        // Any identifier, keywords included: a misspelt layer gets "unknown layer", not a parser error.
        let name = input.call(Ident::parse_any)?;
        let args = if input.peek(token::Paren) { Some(input.parse()?) } else { None };
        let body = if input.peek(token::Brace) { Some(input.parse()?) } else { None };
        Ok(Item { name, args, body })
    }
}

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let content;
        let paren = parenthesized!(content in input);
        let list = Punctuated::<Arg, Token![,]>::parse_terminated(&content)?;
        let list: Vec<Arg> = list.into_iter().collect();
        let mut named = None;
        for arg in &list {
            match (&arg.key, &named) {
                (Some(k), _) => named = Some(k.clone()),
                (None, Some(k)) => {
                    return Err(syn::Error::new(
                        arg.value.span(),
                        format!("positional argument after the named argument `{k}`: write positional arguments first"),
                    ))
                }
                (None, None) => {}
            }
        }
        Ok(Args { list, span: paren.span.join() })
    }
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key = if input.peek(Ident) && input.peek2(Token![=]) {
            let key = input.call(Ident::parse_any)?;
            input.parse::<Token![=]>()?;
            Some(key)
        } else {
            None
        };
        Ok(Arg { key, value: input.parse()? })
    }
}

impl Parse for Value {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        if input.peek(LitBool) {
            return Ok(Value::Bool(input.parse()?));
        }
        if input.peek(Ident) {
            let name = input.call(Ident::parse_any)?;
            let args = if input.peek(token::Paren) { Some(input.parse()?) } else { None };
            return Ok(Value::Name { name, args });
        }
        let minus: Option<Token![-]> = input.parse()?;
        let sign = if minus.is_some() { -1.0 } else { 1.0 };
        let start = minus.map(|m| m.span);
        let join = |end: Span| start.and_then(|s| s.join(end)).unwrap_or(end);
        let prefix = if minus.is_some() { "-" } else { "" };
        if input.peek(LitInt) {
            let lit: LitInt = input.parse()?;
            let magnitude: u64 = lit.base10_parse()?;
            let integer = minus.is_none().then_some(magnitude);
            let text = format!("{prefix}{}", lit.base10_digits());
            return Ok(Value::Number { value: sign * magnitude as f64, integer, text, span: join(lit.span()) });
        }
        if input.peek(LitFloat) {
            let lit: LitFloat = input.parse()?;
            let magnitude: f64 = lit.base10_parse()?;
            let text = format!("{prefix}{}", lit.base10_digits());
            return Ok(Value::Number { value: sign * magnitude, integer: None, text, span: join(lit.span()) });
        }
        Err(input.error("expected a value: a number, `true`/`false`, or a name such as `he_normal`"))
    }
}
