// The console's sign-in: trades the admin token for a session cookie, then opens the console.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("sign-in-form");
  const token = document.getElementById("token");
  const error = document.getElementById("sign-in-error");
  token.focus();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    if (!token.value) {
      error.textContent = "Enter the admin token.";
      token.focus();
      return;
    }
    try {
      const response = await fetch("/console/session", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ token: token.value }),
        credentials: "same-origin",
      });
      if (response.status === 201) {
        token.value = "";
        window.location.assign("/console");
        return;
      }
      error.textContent = response.status === 401
        ? "That is not the admin token."
        : `The host refused the sign-in (${response.status}).`;
    } catch (e) {
      error.textContent = `The host did not answer: ${e.message}`;
    }
    token.select();
  });
});
