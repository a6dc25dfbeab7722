// Android library module (AAR) embedding the Portcullis core.
//
// The uniffi-generated Kotlin (package org.portcullis) and libportcullis_ffi.so for
// arm64-v8a, armeabi-v7a and x86_64 are NOT in this directory: the `cargoNdkBuild` task runs
// ../scripts/build-android.sh before every build, which writes them to ../target/android/
// (gitignored), and the main source set reads them from there.

import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    id("com.android.library") version "8.7.3"
    id("org.jetbrains.kotlin.android") version "2.1.20"
}

group = "org.portcullis"
version = "0.1.0"

val repoRoot: File = rootDir.parentFile
val generatedKotlin: File = repoRoot.resolve("target/android/kotlin")
val generatedJniLibs: File = repoRoot.resolve("target/android/jniLibs")

android {
    namespace = "org.portcullis.android"
    compileSdk = 35
    // r26 or later; any installed NDK works when ANDROID_NDK_HOME is set.
    ndkVersion = "27.2.12479018"

    defaultConfig {
        minSdk = 29
        // JNA and the generated bindings are reached through reflection: keep them in apps that minify.
        consumerProguardFiles("consumer-rules.pro")
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    sourceSets {
        getByName("main") {
            java.srcDir(generatedKotlin) // org/portcullis/portcullis_ffi.kt
            jniLibs.srcDir(generatedJniLibs) // <abi>/libportcullis_ffi.so
        }
    }

    // src/test/kotlin holds plain-JVM tests of org.portcullis.android.core and src/robolectric/kotlin
    // Robolectric tests of the glue; both run against the host build of the library
    // (scripts/android-jvm-tests.sh, scripts/android-robolectric-tests.sh), not a Gradle test task.
    testOptions {
        unitTests.all { it.enabled = false }
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
    }
}

dependencies {
    // The generated bindings load the library with JNA; the @aar carries libjnidispatch.so per ABI.
    implementation("net.java.dev.jna:jna:5.13.0@aar")
    // suspend functions of the bindings and the glue.
    implementation("org.jetbrains.kotlinx:kotlinx-coroutines-android:1.8.1")
    // The only Google-Maven dependency, used by AndroidxKeyedAppStatesReporter.kt alone (everything
    // else compiles against the framework: scripts/android-robolectric-tests.sh).
    implementation("androidx.enterprise:enterprise-feedback:1.1.0")
}

val cargoNdkBuild by tasks.registering(Exec::class) {
    group = "build"
    description = "Builds libportcullis_ffi.so (cargo-ndk) and the Kotlin bindings (../scripts/build-android.sh)."
    workingDir = repoRoot
    commandLine("bash", "scripts/build-android.sh")
    inputs.files(
        fileTree(repoRoot.resolve("core/src")),
        fileTree(repoRoot.resolve("bindings/src")),
        repoRoot.resolve("bindings/uniffi.toml"),
        repoRoot.resolve("Cargo.toml"),
        repoRoot.resolve("Cargo.lock"),
        repoRoot.resolve("core/Cargo.toml"),
        repoRoot.resolve("bindings/Cargo.toml"),
        repoRoot.resolve("scripts/build-android.sh"),
    )
    outputs.dirs(generatedKotlin, generatedJniLibs)
    notCompatibleWithConfigurationCache("reads the NDK location from the android extension")
    doFirst {
        // ANDROID_NDK_HOME from the environment wins; otherwise the NDK the Android plugin resolved.
        if (System.getenv("ANDROID_NDK_HOME").isNullOrEmpty()) {
            environment("ANDROID_NDK_HOME", android.ndkDirectory.absolutePath)
        }
    }
}

tasks.named("preBuild") {
    dependsOn(cargoNdkBuild)
}
