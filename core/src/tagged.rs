//! Readers for internally tagged enums (`{"kind": "…", …}`) that do not go through serde's
//! buffered reader.
//!
//! The derived reader of an internally tagged enum cannot know the variant before it has
//! seen the tag, so it buffers the whole object into serde's `Content` tree and reads the
//! variant again from that; a type nested in another tagged or flattened type has its
//! reader compiled once more for each enclosing buffer. For the measures, actions and
//! instruction outcomes the phone reads from its stored state that was about 68 KB of
//! the shipped library (docs/decisions/0009-ffi-size-features.md).
//!
//! [`flat_reader!`] instead reads one flat record of the tag and every variant's fields as
//! options, then builds the variant, naming the variant and the field when one it needs is
//! missing. It accepts what the derived reader accepted (unknown fields are ignored, as
//! they were); the enum keeps its derived writer and its JSON form.

/// Declares module `$module` with a `Fields` record that `$target` is read from
/// (`#[serde(try_from = "path::to::$module::Fields")]`): `$tag` is the tag's key, `$case`
/// the variants' `rename_all`, `fields` every field any variant has, and `variants` which
/// fields each one takes.
macro_rules! flat_reader {
    (
        mod $module:ident for $target:ident, tag $tag:literal, case $case:literal;
        fields { $($field:ident: $ty:ty),* $(,)? }
        variants { $($variant:ident $({ $($takes:ident),* })?),* $(,)? }
    ) => {
        pub(crate) mod $module {
            #[allow(unused_imports)]
            use super::*;

            #[derive(serde::Deserialize)]
            #[serde(rename_all = $case)]
            enum Tag {
                $($variant),*
            }

            /// The record of a tag and whichever fields are present.
            #[derive(serde::Deserialize)]
            pub(crate) struct Fields {
                #[serde(rename = $tag)]
                tag: Tag,
                $(pub(crate) $field: Option<$ty>),*
            }

            impl TryFrom<Fields> for $target {
                type Error = String;

                fn try_from(f: Fields) -> Result<Self, String> {
                    Ok(match f.tag {
                        $(Tag::$variant => $target::$variant $({
                            $($takes: f.$takes.ok_or_else(|| {
                                format!(
                                    "{} needs `{}`",
                                    stringify!($variant),
                                    stringify!($takes)
                                )
                            })?),*
                        })?),*
                    })
                }
            }
        }
    };
}

pub(crate) use flat_reader;
