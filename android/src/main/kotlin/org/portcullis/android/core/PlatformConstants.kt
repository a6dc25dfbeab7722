// Android constant VALUES used by the platform-independent code in this package.
//
// Nothing in org.portcullis.android.core imports android.*: these files are compiled and
// tested on a desktop JVM against the real library (scripts/android-jvm-tests.sh), where
// android.jar is not available. Each value is the one the Android SDK defines; the comment
// names the constant it mirrors. They are part of the public SDK and never change.

package org.portcullis.android.core

/** `android.os.Build.VERSION_CODES` this module branches on. */
object ApiLevels {
    /** `R`. */
    const val R = 30
    /** `S`: `TelephonyCallback`. */
    const val S = 31
    /** `UPSIDE_DOWN_CAKE`: `DISALLOW_CELLULAR_2G`. */
    const val UPSIDE_DOWN_CAKE = 34
    /** `VANILLA_ICE_CREAM`: `DISALLOW_SIM_GLOBALLY`. */
    const val VANILLA_ICE_CREAM = 35
}
