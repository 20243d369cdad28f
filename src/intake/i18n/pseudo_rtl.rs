//! CLDR's right-to-left pseudo-locale (`ar-XB`): the English words, laid out right to left. Only
//! in builds with the `rtl-pseudo-locale` feature (the tests), to prove the pages mirror before a
//! real right-to-left language (Uyghur, Persian/Dari) is added.
use super::{en, Strings};

pub const STRINGS: Strings = Strings {
    native_name: "Pseudo RTL",
    ..en::STRINGS
};
