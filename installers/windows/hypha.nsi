; Hypha setup for Windows (NSIS). Built by build.sh; expects in the staging directory:
; hyphad.exe, hypha.exe, hypha-tray.exe, WebView2Loader.dll, wintun.dll, wintun-LICENSE.txt,
; README.md. The tray needs the WebView2 runtime, which Windows 11 and current Windows 10 have.
Unicode true
!ifndef VERSION
  !define VERSION "0.1.0"
!endif
!ifndef STAGE
  !define STAGE "stage"
!endif
Name "Hypha ${VERSION}"
OutFile "HyphaSetup-${VERSION}.exe"
InstallDir "$PROGRAMFILES64\Hypha"
RequestExecutionLevel admin
SetCompressor /SOLID lzma

Page directory
Page instfiles
UninstPage uninstConfirm
UninstPage instfiles

Section "Hypha"
  SetOutPath "$INSTDIR"
  ; An upgrade replaces a running service: stop and remove it first (the key stays).
  IfFileExists "$INSTDIR\hyphad.exe" 0 +2
    ExecWait '"$INSTDIR\hyphad.exe" service uninstall'
  ; A running tray holds its .exe open.
  nsExec::Exec 'taskkill /F /IM hypha-tray.exe'
  File "${STAGE}\hyphad.exe"
  File "${STAGE}\hypha.exe"
  ; The tray app (runs as each user, talks to the service over its pipe) and the WebView2
  ; loader it needs beside it.
  File "${STAGE}\hypha-tray.exe"
  File "${STAGE}\WebView2Loader.dll"
  ; WireGuard's signed wintun.dll, loaded by hyphad at run time, with its licence.
  File "${STAGE}\wintun.dll"
  File "${STAGE}\wintun-LICENSE.txt"
  File "${STAGE}\README.md"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  ; Start menu entry and autostart at logon, for every user of the machine.
  SetShellVarContext all
  CreateShortcut "$SMPROGRAMS\Hypha.lnk" "$INSTDIR\hypha-tray.exe"
  WriteRegStr HKLM "Software\Microsoft\Windows\CurrentVersion\Run" "Hypha tray" '"$INSTDIR\hypha-tray.exe"'
  ExecWait '"$INSTDIR\hyphad.exe" service install' $0
  StrCmp $0 0 +2
    MessageBox MB_OK|MB_ICONEXCLAMATION "Installing the Hypha service failed (code $0)."
  WriteRegStr HKLM "Software\Microsoft\Windows\CurrentVersion\Uninstall\Hypha" "DisplayName" "Hypha"
  WriteRegStr HKLM "Software\Microsoft\Windows\CurrentVersion\Uninstall\Hypha" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "Software\Microsoft\Windows\CurrentVersion\Uninstall\Hypha" "UninstallString" '"$INSTDIR\uninstall.exe"'
SectionEnd

Section "Uninstall"
  ExecWait '"$INSTDIR\hyphad.exe" service uninstall'
  nsExec::Exec 'taskkill /F /IM hypha-tray.exe'
  SetShellVarContext all
  Delete "$SMPROGRAMS\Hypha.lnk"
  DeleteRegValue HKLM "Software\Microsoft\Windows\CurrentVersion\Run" "Hypha tray"
  Delete "$INSTDIR\hyphad.exe"
  Delete "$INSTDIR\hypha.exe"
  Delete "$INSTDIR\hypha-tray.exe"
  Delete "$INSTDIR\WebView2Loader.dll"
  Delete "$INSTDIR\wintun.dll"
  Delete "$INSTDIR\wintun-LICENSE.txt"
  Delete "$INSTDIR\README.md"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKLM "Software\Microsoft\Windows\CurrentVersion\Uninstall\Hypha"
  ; The identity key in %ProgramData%\Hypha is kept: it is the node's identity.
SectionEnd
