// The Portcullis Android library as a stand-alone Gradle build (the root project is the
// library module). Apps use the AAR it builds, or include this build:
//   includeBuild("path/to/portcullis/android")  (settings.gradle.kts of the app)

pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "portcullis-android"
