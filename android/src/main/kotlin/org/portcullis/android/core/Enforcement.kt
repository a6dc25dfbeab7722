// The enforcer's contract: the core's remediation actions in, "done" or "not done, because" out.
//
// The core's compliance engine decides what to do (core/src/compliance/actions.rs) and hands
// each action over as `RemediationAction(route, rule, actionJson)`. This file parses
// `actionJson` into [Action] / [Measure], which mirror the core's serde form exactly, routes
// them (AGENT: carried out here; MDM: reported, never executed) and checks API levels before
// the Android glue (`DevicePolicyEnforcer`) makes the DevicePolicyManager call. Anything it
// cannot read becomes [Action.Unsupported] and is reported as not carried out, never dropped.
// The enforcer never chooses an action.

package org.portcullis.android.core

/** A lasting change kept in force until the core lifts it (the core's `Measure`, tagged `kind`). */
sealed class Measure {
    /** `addUserRestriction` (lift: `clearUserRestriction`); [constant] is the Java name, e.g. `DISALLOW_CELLULAR_2G`. */
    data class UserRestriction(val constant: String) : Measure()

    /** `setUsbDataSignalingEnabled(false)` (API 31; lift: `true`). */
    object UsbDataSignalingDisabled : Measure() {
        override fun toString() = "UsbDataSignalingDisabled"
    }

    /** `setMaximumTimeToLock(millis)` (lift: 0). */
    data class MaximumTimeToLock(val millis: Long) : Measure()

    /** `setMaximumFailedPasswordsForWipe(attempts)` (lift: 0). */
    data class MaximumFailedPasswordsForWipe(val attempts: Int) : Measure()

    /** `setRequiredPasswordComplexity` (API 31); [complexity] is `COMPLEXITY_LOW|MEDIUM|HIGH`. */
    data class RequiredPasswordComplexity(val complexity: String) : Measure()

    /** `setAlwaysOnVpnPackage(packageName, lockdown)` (lift: `null`). */
    data class AlwaysOnVpn(val packageName: String, val lockdown: Boolean) : Measure()

    /** `setPermittedAccessibilityServices(packages)` (lift: `null`). */
    data class PermittedAccessibilityServices(val packages: List<String>) : Measure()

    /** `setUninstallBlocked(packageName, true)` (lift: `false`). */
    data class UninstallBlocked(val packageName: String) : Measure()

    /** `setPackagesSuspended([packageName], true)` (lift: `false`). */
    data class PackageSuspended(val packageName: String) : Measure()

    /** `setApplicationHidden(packageName, true)` (lift: `false`). */
    data class PackageHidden(val packageName: String) : Measure()

    /** Every app suspended but the agent, the phone app and settings (lift: unsuspend them). */
    object AccessBlocked : Measure() {
        override fun toString() = "AccessBlocked"
    }
}

/** One entry of a user notice: the rule broken and the reason codes (the app localises them). */
data class Notice(val rule: String, val reasons: List<String>)

/** What the core asks for (its `Action`, tagged `action`). */
sealed class Action {
    data class Apply(val measure: Measure) : Action()
    data class Lift(val measure: Measure) : Action()
    data class NotifyUser(val notices: List<Notice>) : Action()

    /** `uninstallCaCert`; [sha256] is the certificate's fingerprint, lowercase hex. */
    data class RemoveCaCert(val sha256: String) : Action()

    object LockDevice : Action() {
        override fun toString() = "LockDevice"
    }

    data class WipeDevice(val preserveFrp: Boolean) : Action()

    /** JSON this module cannot read (a newer core, or damage): reported, never carried out. */
    data class Unsupported(val raw: String, val why: String) : Action()
}

/** Who carries an action out: the agent on the device, or the MDM (reported to the console). */
enum class Route { AGENT, MDM }

/** A parsed `RemediationAction`; [route] is null when the core sent a route this module does not know. */
data class RequestedAction(val route: Route?, val rule: String?, val action: Action)

/** What became of an action. */
sealed class ActionOutcome {
    /** Carried out. */
    object Done : ActionOutcome() {
        override fun toString() = "Done"
    }

    /** Routed to the MDM: not executed here, to be reported to the console. */
    object ForMdm : ActionOutcome() {
        override fun toString() = "ForMdm"
    }

    /** This device cannot do it (API level, not device owner, unreadable action): do not retry. */
    data class Unsupported(val reason: String) : ActionOutcome()

    /** The platform refused or failed; a later retry may succeed. */
    data class Failed(val reason: String) : ActionOutcome()
}

/** Carries out AGENT-routed actions; the Android implementation is `DevicePolicyEnforcer`. */
interface Enforcer {
    /** Called only for actions that passed [Enforcement.precheck]; never for [Action.Unsupported]. */
    fun carryOut(action: Action): ActionOutcome
}

/** The outcome of every action of a pass, in order. */
data class EnforcementReport(val outcomes: List<Pair<RequestedAction, ActionOutcome>>) {
    /** Carried out by neither the agent nor yet the MDM, with the reason: to report to the console. */
    val notDone: List<Pair<RequestedAction, ActionOutcome>> get() = outcomes.filter { it.second != ActionOutcome.Done }
    val forMdm: List<RequestedAction> get() = outcomes.filter { it.second == ActionOutcome.ForMdm }.map { it.first }
    val allDone: Boolean get() = notDone.isEmpty()
}

/** Routes, prechecks and carries out every action in order; one failure does not stop the others. */
fun Enforcer.carryOutAll(actions: List<RequestedAction>, sdkInt: Int): EnforcementReport =
    EnforcementReport(
        actions.map { requested ->
            val outcome = when (requested.route) {
                null -> ActionOutcome.Unsupported("unknown route")
                Route.MDM -> ActionOutcome.ForMdm
                Route.AGENT -> Enforcement.precheck(requested.action, sdkInt) ?: try {
                    carryOut(requested.action)
                } catch (e: RuntimeException) {
                    ActionOutcome.Failed("${e.javaClass.simpleName}: ${e.message}")
                }
            }
            requested to outcome
        },
    )

object Enforcement {
    /** The core's user restriction constants and their `UserManager` key values. */
    val RESTRICTION_KEYS: Map<String, String> = mapOf(
        "DISALLOW_DEBUGGING_FEATURES" to UserRestrictionKeys.DEBUGGING_FEATURES,
        "DISALLOW_INSTALL_UNKNOWN_SOURCES_GLOBALLY" to UserRestrictionKeys.INSTALL_UNKNOWN_SOURCES_GLOBALLY,
        "ENSURE_VERIFY_APPS" to UserRestrictionKeys.ENSURE_VERIFY_APPS,
        "DISALLOW_CELLULAR_2G" to UserRestrictionKeys.CELLULAR_2G,
        "DISALLOW_USB_FILE_TRANSFER" to UserRestrictionKeys.USB_FILE_TRANSFER,
        "DISALLOW_CONFIG_MOBILE_NETWORKS" to UserRestrictionKeys.CONFIG_MOBILE_NETWORKS,
    )

    /** Lowest API level of each user restriction key this module knows a minimum for. */
    val RESTRICTION_MIN_SDK: Map<String, Int> = mapOf(
        UserRestrictionKeys.CELLULAR_2G to ApiLevels.UPSIDE_DOWN_CAKE,
        UserRestrictionKeys.INSTALL_UNKNOWN_SOURCES_GLOBALLY to ApiLevels.Q,
    )

    /** Parses one `RemediationAction`; unreadable action JSON becomes [Action.Unsupported]. */
    fun request(route: String, rule: String?, actionJson: String): RequestedAction =
        RequestedAction(Route.entries.firstOrNull { it.name == route }, rule, parseAction(actionJson))

    /** Parses the core's action JSON; never throws. */
    fun parseAction(json: String): Action = try {
        actionOf(MiniJson.obj(MiniJson.parse(json), "action"))
    } catch (e: MiniJson.Error) {
        Action.Unsupported(json, e.message ?: "unreadable")
    }

    private fun actionOf(o: Map<String, Any?>): Action = when (val tag = MiniJson.str(o, "action")) {
        "APPLY" -> Action.Apply(measureOf(MiniJson.obj(o["measure"], "measure")))
        "LIFT" -> Action.Lift(measureOf(MiniJson.obj(o["measure"], "measure")))
        "NOTIFY_USER" -> Action.NotifyUser(
            MiniJson.list(o["notices"], "notices").map {
                val n = MiniJson.obj(it, "notice")
                Notice(MiniJson.str(n, "rule"), MiniJson.list(n["reasons"], "reasons").map { r -> r as? String ?: throw MiniJson.Error("reason is not a string") })
            },
        )
        "REMOVE_CA_CERT" -> Action.RemoveCaCert(MiniJson.str(o, "sha256").replace(":", "").lowercase())
        "LOCK_DEVICE" -> Action.LockDevice
        "WIPE_DEVICE" -> Action.WipeDevice(MiniJson.bool(o, "preserve_frp"))
        else -> throw MiniJson.Error("unknown action '$tag'")
    }

    private fun measureOf(m: Map<String, Any?>): Measure = when (val kind = MiniJson.str(m, "kind")) {
        "USER_RESTRICTION" -> Measure.UserRestriction(MiniJson.str(m, "restriction"))
        "USB_DATA_SIGNALING_DISABLED" -> Measure.UsbDataSignalingDisabled
        "MAXIMUM_TIME_TO_LOCK" -> Measure.MaximumTimeToLock(MiniJson.long(m, "millis"))
        "MAXIMUM_FAILED_PASSWORDS_FOR_WIPE" -> Measure.MaximumFailedPasswordsForWipe(MiniJson.long(m, "attempts").toInt())
        "REQUIRED_PASSWORD_COMPLEXITY" -> Measure.RequiredPasswordComplexity(MiniJson.str(m, "complexity"))
        "ALWAYS_ON_VPN" -> Measure.AlwaysOnVpn(MiniJson.str(m, "package"), MiniJson.bool(m, "lockdown"))
        "PERMITTED_ACCESSIBILITY_SERVICES" -> Measure.PermittedAccessibilityServices(
            MiniJson.list(m["packages"], "packages").map { it as? String ?: throw MiniJson.Error("package is not a string") },
        )
        "UNINSTALL_BLOCKED" -> Measure.UninstallBlocked(MiniJson.str(m, "package"))
        "PACKAGE_SUSPENDED" -> Measure.PackageSuspended(MiniJson.str(m, "package"))
        "PACKAGE_HIDDEN" -> Measure.PackageHidden(MiniJson.str(m, "package"))
        "ACCESS_BLOCKED" -> Measure.AccessBlocked
        else -> throw MiniJson.Error("unknown measure '$kind'")
    }

    /**
     * Checks an AGENT-routed [action] before any platform call: `null` when the glue may go
     * ahead, else the outcome to report (unreadable action, unknown restriction, API too low).
     */
    fun precheck(action: Action, sdkInt: Int): ActionOutcome? {
        val measure = when (action) {
            is Action.Unsupported -> return ActionOutcome.Unsupported("could not read the action: ${action.why}")
            is Action.Apply -> action.measure
            is Action.Lift -> action.measure
            else -> return null
        }
        val min = when (measure) {
            is Measure.UserRestriction -> {
                val key = RESTRICTION_KEYS[measure.constant]
                    ?: return ActionOutcome.Unsupported("unknown user restriction ${measure.constant}")
                RESTRICTION_MIN_SDK[key] ?: 0
            }
            Measure.UsbDataSignalingDisabled, is Measure.RequiredPasswordComplexity -> ApiLevels.S
            else -> 0
        }
        return if (sdkInt < min) ActionOutcome.Unsupported("$measure needs API $min; this device runs API $sdkInt") else null
    }

    /** The apps the access block suspends: every installed package but the ones kept usable. */
    fun accessBlockTargets(installed: Collection<String>, keep: Set<String>): List<String> =
        installed.filter { it !in keep }.distinct().sorted()
}

/** A small strict JSON reader (no JSON library on the JVM test classpath): Map / List / String / Long / Double / Boolean / null. */
object MiniJson {
    class Error(message: String) : Exception(message)

    fun parse(text: String): Any? {
        var i = 0
        fun err(what: String): Nothing = throw Error("JSON: $what at offset $i")
        fun ws() {
            while (i < text.length && text[i] in " \t\r\n") i++
        }
        fun peek(): Char = if (i < text.length) text[i] else err("unexpected end")
        fun next(): Char = peek().also { i++ }
        fun string(): String {
            if (next() != '"') err("expected a string")
            val sb = StringBuilder()
            while (true) {
                val c = next()
                when {
                    c == '"' -> return sb.toString()
                    c == '\\' -> when (val e = next()) {
                        '"', '\\', '/' -> sb.append(e)
                        'n' -> sb.append('\n')
                        'r' -> sb.append('\r')
                        't' -> sb.append('\t')
                        'b' -> sb.append('\b')
                        'f' -> sb.append('\u000c')
                        'u' -> {
                            if (i + 4 > text.length) err("short \\u escape")
                            sb.append(text.substring(i, i + 4).toIntOrNull(16)?.toChar() ?: err("bad \\u escape"))
                            i += 4
                        }
                        else -> err("bad escape")
                    }
                    c < ' ' -> err("control character in a string")
                    else -> sb.append(c)
                }
            }
        }
        fun value(depth: Int): Any? {
            if (depth > 64) err("nested too deeply")
            ws()
            return when (peek()) {
                '{' -> {
                    i++
                    val map = LinkedHashMap<String, Any?>()
                    ws()
                    if (peek() == '}') {
                        i++
                        return map
                    }
                    while (true) {
                        ws()
                        val k = string()
                        ws()
                        if (next() != ':') err("expected ':'")
                        if (map.containsKey(k)) err("duplicate key")
                        map[k] = value(depth + 1)
                        ws()
                        when (next()) {
                            ',' -> {}
                            '}' -> return map
                            else -> err("expected ',' or '}'")
                        }
                    }
                    @Suppress("UNREACHABLE_CODE")
                    map
                }
                '[' -> {
                    i++
                    val list = mutableListOf<Any?>()
                    ws()
                    if (peek() == ']') {
                        i++
                        return list
                    }
                    while (true) {
                        list += value(depth + 1)
                        ws()
                        when (next()) {
                            ',' -> {}
                            ']' -> return list
                            else -> err("expected ',' or ']'")
                        }
                    }
                    @Suppress("UNREACHABLE_CODE")
                    list
                }
                '"' -> string()
                't' -> if (text.startsWith("true", i)) { i += 4; true } else err("bad literal")
                'f' -> if (text.startsWith("false", i)) { i += 5; false } else err("bad literal")
                'n' -> if (text.startsWith("null", i)) { i += 4; null } else err("bad literal")
                else -> {
                    val start = i
                    while (i < text.length && (text[i].isDigit() || text[i] in "+-.eE")) i++
                    val num = text.substring(start, i)
                    if (num.isEmpty()) err("unexpected character")
                    num.toLongOrNull() ?: num.toDoubleOrNull() ?: err("bad number")
                }
            }
        }
        val v = value(0)
        ws()
        if (i != text.length) err("trailing characters")
        return v
    }

    @Suppress("UNCHECKED_CAST")
    fun obj(v: Any?, what: String): Map<String, Any?> = v as? Map<String, Any?> ?: throw Error("$what is not an object")

    fun list(v: Any?, what: String): List<Any?> = v as? List<Any?> ?: throw Error("$what is not an array")

    fun str(o: Map<String, Any?>, key: String): String = o[key] as? String ?: throw Error("'$key' is not a string")

    fun long(o: Map<String, Any?>, key: String): Long = o[key] as? Long ?: throw Error("'$key' is not an integer")

    fun bool(o: Map<String, Any?>, key: String): Boolean = o[key] as? Boolean ?: throw Error("'$key' is not a boolean")
}
