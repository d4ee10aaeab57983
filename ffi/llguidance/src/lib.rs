//! llguidance (crates.io, pinned in Cargo.toml) as a C dynamic library for `bun:ffi`
//! (`src/engine/grammar/llguidance.ts`).
//!
//! Every `llg_*` function of the crate's C API (`llguidance.h`) is exported unchanged. Two constructors are added so
//! that the caller never lays out llguidance's C structs by hand: they take plain arguments, fill
//! `LlgTokenizerInitV2` / `LlgConstraintInit` here (checked by the Rust compiler against the pinned crate) and call
//! the crate's own `llg_new_tokenizer_v2` / `llg_new_matcher`.
use std::ffi::{c_char, c_void};

pub use llguidance::ffi::*;

/// Builds an llguidance tokenizer from the text of a Hugging Face `tokenizer.json` (byte-level BPE or SentencePiece
/// with byte fallback; special added tokens are marked so that a grammar never spells them out as text).
///
/// - `tokenizer_json`: NUL-terminated UTF-8 JSON text.
/// - `vocab_size`: the model's logit width `V`; the token table is padded with empty (never allowed) tokens up to it.
/// - `eos` / `n_eos`: the end-of-turn token ids (at least one); the grammar allows them once it accepts.
/// - `error` / `error_len`: a buffer that receives a NUL-terminated message when this returns null.
///
/// Tokenization of forced text is llguidance's approximate greedy tokenizer (no callback into the caller).
/// Free the result with `llg_free_tokenizer`.
///
/// # Safety
/// Pointers must be valid for the lengths given.
#[no_mangle]
pub unsafe extern "C" fn ithaca_llg_new_tokenizer(
    tokenizer_json: *const c_char,
    vocab_size: u32,
    eos: *const u32,
    n_eos: u32,
    error: *mut c_char,
    error_len: usize,
) -> *mut LlgTokenizer {
    let (first, extra) = if n_eos == 0 {
        (u32::MAX, std::ptr::null())
    } else {
        (unsafe { *eos }, unsafe { eos.add(1) })
    };
    let init = LlgTokenizerInitV2 {
        struct_size: std::mem::size_of::<LlgTokenizerInitV2>(),
        vocab_size,
        tok_eos: first,
        token_lens: std::ptr::null(),
        token_bytes: std::ptr::null(),
        tokenizer_json,
        tokenize_assumes_string: false,
        tokenize_fn: None,
        use_approximate_greedy_tokenize_fn: true,
        tokenize_user_data: std::ptr::null::<c_void>(),
        slices: std::ptr::null(),
        tok_eos_extra: if n_eos > 1 { extra } else { std::ptr::null() },
        tok_eos_extra_count: n_eos.saturating_sub(1),
    };
    unsafe { llg_new_tokenizer_v2(&init, error, error_len) }
}

/// Compiles a grammar into a matcher for `tokenizer`, with llguidance's default parser limits and no logging.
///
/// - `constraint_type`: `"json_schema"`, `"json_object"`, `"lark"`, `"regex"` (NUL-terminated).
/// - `data`: the grammar text (NUL-terminated UTF-8).
///
/// Never null: a grammar that does not compile gives a matcher in the error state (`llg_matcher_is_error`, message
/// from `llg_matcher_get_error`). Free it with `llg_free_matcher`.
///
/// # Safety
/// `tokenizer` must come from [`ithaca_llg_new_tokenizer`]; the strings must be NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn ithaca_llg_new_matcher(
    tokenizer: *const LlgTokenizer,
    constraint_type: *const c_char,
    data: *const c_char,
) -> *mut LlgMatcher {
    let init = LlgConstraintInit {
        tokenizer,
        log_buffer_level: 0,
        log_stderr_level: 0,
        ff_tokens_ok: false,
        backtrack_ok: false,
        limits: llguidance::api::ParserLimits::default(),
    };
    unsafe { llg_new_matcher(&init, constraint_type, data) }
}
