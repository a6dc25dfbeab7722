// The tests' JSON reader: the keyed app states this module publishes are JSON the console
// reads, and the tests check them with this small strict reader (no JSON library on the JVM
// test classpath). The library itself takes and returns typed records only.

package org.portcullis.android.jvmtests

/** A small strict JSON reader (no JSON library on the JVM test classpath): Map / List / String / Long / Double / Boolean / null. */
internal object MiniJson {
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
