console.log("pocketlua");
