; 证联客户端 zhenglian — Windows installer (NSIS 3, Unicode).
;
; Build (see docs/packaging.md; .github/workflows/windows.yml does this):
;   makensis /DVERSION=0.1.0 /DVI_VERSION=0.1.0.0 /DBUNDLE_DIR=..\..\dist\zhenglian ^
;            /DOUT_FILE=..\..\dist\zhenglian-0.1.0-setup.exe installer\windows\zhenglian.nsi
;
; What it does:
; - per-machine install (administrator) into "Program Files\zhenglian" (64-bit view);
; - Start-menu folder and desktop shortcut "证联客户端" -> zhenglian-gui.exe (the windowed
;   executable: no console window); zhenglian.exe is the command line;
; - optional: start with Windows for every user (HKLM ...\Run);
; - optional: run the CA vendors' driver installers when they are placed in a
;   "drivers" folder beside this setup file (drivers\NETCA*.exe, SZCA*.exe, GDCA*.exe);
;   a section whose installer is absent is shown greyed out;
; - upgrade: an earlier version found in the registry is uninstalled silently
;   first (its user data and its start-with-Windows choice are kept);
; - the uninstaller keeps the user data (%LOCALAPPDATA%\zhenglian) unless
;   "remove my data" is ticked on its components page.

Unicode true
ManifestDPIAware true
RequestExecutionLevel admin
SetCompressor /SOLID lzma

!ifndef VERSION
  !define VERSION "0.0.0"
!endif
!ifndef VI_VERSION            ; four numbers, for the version resource
  !define VI_VERSION "0.0.0.0"
!endif
!ifndef BUNDLE_DIR            ; PyInstaller's one-folder output (relative to this file)
  !define BUNDLE_DIR "..\..\dist\zhenglian"
!endif
!ifndef OUT_FILE
  !define OUT_FILE "..\..\dist\zhenglian-${VERSION}-setup.exe"
!endif
!ifndef ICON
  !define ICON "..\..\resources\icons\zhenglian.ico"
!endif

!define APP_ID "zhenglian"
!define APP_NAME "证联客户端"
!define PUBLISHER "zhenglian project"
!define GUI_EXE "zhenglian-gui.exe"
!define CLI_EXE "zhenglian.exe"
!define UNINST_EXE "uninstall.exe"
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\${APP_ID}"
!define RUN_KEY "Software\Microsoft\Windows\CurrentVersion\Run"
!define DATA_DIR_NAME "zhenglian"   ; platformdirs.user_data_dir("zhenglian", appauthor=False)

; build.spec makes both executables on Windows; stop here if the bundle is not that.
!if ! /FileExists "${BUNDLE_DIR}\${GUI_EXE}"
  !error "${BUNDLE_DIR}\${GUI_EXE} not found: build the bundle with PyInstaller on Windows first"
!endif
!if ! /FileExists "${BUNDLE_DIR}\${CLI_EXE}"
  !error "${BUNDLE_DIR}\${CLI_EXE} not found: build the bundle with PyInstaller on Windows first"
!endif

!include "MUI2.nsh"
!include "LogicLib.nsh"
!include "x64.nsh"
!include "FileFunc.nsh"
!include "WordFunc.nsh"
!include "Sections.nsh"

Name "${APP_NAME} ${VERSION}"
OutFile "${OUT_FILE}"
InstallDir "$PROGRAMFILES64\zhenglian"
BrandingText "${APP_NAME} ${VERSION}"
ShowInstDetails show
ShowUninstDetails show

VIProductVersion "${VI_VERSION}"
VIFileVersion "${VI_VERSION}"
VIAddVersionKey /LANG=2052 "ProductName" "${APP_NAME} zhenglian"
VIAddVersionKey /LANG=2052 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=2052 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=2052 "FileDescription" "${APP_NAME} 安装程序 / zhenglian setup"
VIAddVersionKey /LANG=2052 "CompanyName" "${PUBLISHER}"
VIAddVersionKey /LANG=2052 "LegalCopyright" "Apache-2.0"

Var PrevUninstaller   ; uninstall.exe of an installed version, if any
Var PrevDir
Var PrevVersion
Var PrevAutostart     ; 1 when the installed version starts with Windows
Var DriverNETCA
Var DriverSZCA
Var DriverGDCA


; --- helpers ---------------------------------------------------------------------
; A vendor's driver installer in "drivers\" beside the setup file: remember its name,
; or grey the section out when there is none.
!macro FindDriver PREFIX VAR SEC
  ClearErrors
  FindFirst $0 ${VAR} "$EXEDIR\drivers\${PREFIX}*.exe"
  FindClose $0
  ${If} ${VAR} == ""
    SectionSetFlags ${SEC} ${SF_RO}
  ${Else}
    SectionGetText ${SEC} $1
    SectionSetText ${SEC} "$1 (${VAR})"
    !insertmacro SelectSection ${SEC}
  ${EndIf}
!macroend

; Run it and wait; its own window asks its own questions.  A failure is reported
; in the log and does not undo the client's installation.
!macro RunDriver VAR
  ${If} ${VAR} != ""
    DetailPrint "$EXEDIR\drivers\${VAR}"
    ExecWait '"$EXEDIR\drivers\${VAR}"' $0
    ${If} $0 != 0
      DetailPrint "$(DriverFailed)${VAR}"
    ${EndIf}
  ${EndIf}
!macroend

; --- pages --------------------------------------------------------------------
!define MUI_ICON "${ICON}"
!define MUI_UNICON "${ICON}"
!define MUI_ABORTWARNING
!define MUI_COMPONENTSPAGE_SMALLDESC
!define MUI_FINISHPAGE_RUN
!define MUI_FINISHPAGE_RUN_TEXT "$(RunNow)"
!define MUI_FINISHPAGE_RUN_FUNCTION RunUnelevated

!insertmacro MUI_PAGE_WELCOME
!insertmacro MUI_PAGE_COMPONENTS
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!insertmacro MUI_PAGE_FINISH

!insertmacro MUI_UNPAGE_CONFIRM
!insertmacro MUI_UNPAGE_COMPONENTS
!insertmacro MUI_UNPAGE_INSTFILES

!insertmacro MUI_LANGUAGE "SimpChinese"
!insertmacro MUI_LANGUAGE "English"

LangString RunNow ${LANG_SIMPCHINESE} "启动证联客户端"
LangString RunNow ${LANG_ENGLISH} "Start zhenglian"
LangString Need64 ${LANG_SIMPCHINESE} "证联客户端需要 64 位 Windows 10 或更新版本。"
LangString Need64 ${LANG_ENGLISH} "zhenglian needs 64-bit Windows 10 or later."
LangString Running ${LANG_SIMPCHINESE} "证联客户端正在运行。关闭它并继续安装吗？（正在进行的签章会中断）"
LangString Running ${LANG_ENGLISH} "zhenglian is running. Close it and continue? (a signing in progress would be interrupted)"
LangString Newer ${LANG_SIMPCHINESE} "已安装较新的版本 $PrevVersion。仍要安装 ${VERSION} 吗？"
LangString Newer ${LANG_ENGLISH} "A newer version ($PrevVersion) is installed. Install ${VERSION} anyway?"
LangString OldFailed ${LANG_SIMPCHINESE} "无法卸载旧版本（错误 $0）。请先在“应用和功能”中卸载它。"
LangString OldFailed ${LANG_ENGLISH} "Could not uninstall the earlier version (error $0). Uninstall it in Apps & features first."
LangString DriverFailed ${LANG_SIMPCHINESE} "驱动安装程序返回 $0："
LangString DriverFailed ${LANG_ENGLISH} "The driver installer returned $0: "
LangString DescApp ${LANG_SIMPCHINESE} "证联客户端程序、开始菜单和桌面快捷方式。"
LangString DescApp ${LANG_ENGLISH} "The zhenglian program, Start-menu and desktop shortcuts."
LangString DescAutostart ${LANG_SIMPCHINESE} "登录 Windows 时在托盘中启动证联（所有用户）。"
LangString DescAutostart ${LANG_ENGLISH} "Start zhenglian in the tray when anyone logs in to Windows."
LangString DescDrivers ${LANG_SIMPCHINESE} "运行安装程序旁 drivers 文件夹中 CA 厂商的 UKey 驱动安装程序（未找到时不可选）。"
LangString DescDrivers ${LANG_ENGLISH} "Run the CA vendor's UKey driver installer found in the drivers folder beside this setup (greyed out when absent)."
LangString DescUnData ${LANG_SIMPCHINESE} "同时删除您的设置、日志和 PIN 计数（%LOCALAPPDATA%\zhenglian）。默认保留。"
LangString DescUnData ${LANG_ENGLISH} "Also delete your settings, logs and PIN try counters (%LOCALAPPDATA%\zhenglian). Kept by default."

; --- sections -------------------------------------------------------------------
; Before any file is copied: close a running client, remove the earlier version.
Section "-prepare" SecPrepare
  Call CloseRunning
  ${If} $PrevUninstaller != ""
    DetailPrint "Uninstalling ${APP_ID} $PrevVersion"
    ; _?= keeps the old uninstaller in place and makes ExecWait wait for it.
    ; Silent: its "remove my data" section stays unselected, so user data is kept.
    ExecWait '"$PrevUninstaller" /S _?=$PrevDir' $0
    ${If} $0 != 0
      MessageBox MB_ICONSTOP "$(OldFailed)" /SD IDOK
      Abort
    ${EndIf}
    Delete "$PrevUninstaller"
  ${EndIf}
SectionEnd

Section "!证联客户端 zhenglian" SecApp
  SectionIn RO
  SetShellVarContext all
  SetOutPath "$INSTDIR"
  File /r "${BUNDLE_DIR}\*.*"
  WriteUninstaller "$INSTDIR\${UNINST_EXE}"

  CreateDirectory "$SMPROGRAMS\${APP_NAME}"
  CreateShortCut "$SMPROGRAMS\${APP_NAME}\${APP_NAME}.lnk" "$INSTDIR\${GUI_EXE}" "" "$INSTDIR\${GUI_EXE}" 0
  CreateShortCut "$SMPROGRAMS\${APP_NAME}\卸载证联客户端.lnk" "$INSTDIR\${UNINST_EXE}"
  CreateShortCut "$DESKTOP\${APP_NAME}.lnk" "$INSTDIR\${GUI_EXE}" "" "$INSTDIR\${GUI_EXE}" 0

  WriteRegStr HKLM "${UNINST_KEY}" "DisplayName" "${APP_NAME} (zhenglian)"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\${GUI_EXE},0"
  WriteRegStr HKLM "${UNINST_KEY}" "Publisher" "${PUBLISHER}"
  WriteRegStr HKLM "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKLM "${UNINST_KEY}" "UninstallString" '"$INSTDIR\${UNINST_EXE}"'
  WriteRegStr HKLM "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\${UNINST_EXE}" /S'
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKLM "${UNINST_KEY}" "NoRepair" 1
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKLM "${UNINST_KEY}" "EstimatedSize" "$0"
SectionEnd

Section /o "开机自动启动 Start with Windows" SecAutostart
  WriteRegStr HKLM "${RUN_KEY}" "${APP_ID}" '"$INSTDIR\${GUI_EXE}"'
SectionEnd

SectionGroup "UKey 驱动 Key drivers" SecDrivers
  Section /o "网证通 NETCA" SecNETCA
    !insertmacro RunDriver $DriverNETCA
  SectionEnd
  Section /o "深圳CA SZCA" SecSZCA
    !insertmacro RunDriver $DriverSZCA
  SectionEnd
  Section /o "数安时代 GDCA" SecGDCA
    !insertmacro RunDriver $DriverGDCA
  SectionEnd
SectionGroupEnd

Section "un.!证联客户端 zhenglian" UnSecApp
  SectionIn RO
  SetShellVarContext all
  Call un.CloseRunning
  DeleteRegValue HKLM "${RUN_KEY}" "${APP_ID}"
  Delete "$DESKTOP\${APP_NAME}.lnk"
  RMDir /r "$SMPROGRAMS\${APP_NAME}"
  ; Only what the installer put there: the folder may hold other files.
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\${GUI_EXE}"
  Delete "$INSTDIR\${CLI_EXE}"
  Delete "$INSTDIR\${UNINST_EXE}"
  RMDir "$INSTDIR"
  DeleteRegKey HKLM "${UNINST_KEY}"
SectionEnd

Section /o "un.删除我的数据 Remove my data" UnSecData
  ; The data of the user who runs the uninstaller (platformdirs: %LOCALAPPDATA%\zhenglian).
  SetShellVarContext current
  RMDir /r "$LOCALAPPDATA\${DATA_DIR_NAME}"
SectionEnd

!insertmacro MUI_FUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${SecApp} $(DescApp)
  !insertmacro MUI_DESCRIPTION_TEXT ${SecAutostart} $(DescAutostart)
  !insertmacro MUI_DESCRIPTION_TEXT ${SecDrivers} $(DescDrivers)
  !insertmacro MUI_DESCRIPTION_TEXT ${SecNETCA} $(DescDrivers)
  !insertmacro MUI_DESCRIPTION_TEXT ${SecSZCA} $(DescDrivers)
  !insertmacro MUI_DESCRIPTION_TEXT ${SecGDCA} $(DescDrivers)
!insertmacro MUI_FUNCTION_DESCRIPTION_END

!insertmacro MUI_UNFUNCTION_DESCRIPTION_BEGIN
  !insertmacro MUI_DESCRIPTION_TEXT ${UnSecData} $(DescUnData)
!insertmacro MUI_UNFUNCTION_DESCRIPTION_END

; --- functions ------------------------------------------------------------------
Function .onInit
  ${IfNot} ${RunningX64}
    MessageBox MB_ICONSTOP "$(Need64)" /SD IDOK
    Abort
  ${EndIf}
  SetRegView 64

  ; An installed version: where, which, and whether it starts with Windows.
  ReadRegStr $PrevDir HKLM "${UNINST_KEY}" "InstallLocation"
  ReadRegStr $PrevVersion HKLM "${UNINST_KEY}" "DisplayVersion"
  StrCpy $PrevUninstaller ""
  ${If} $PrevDir != ""
  ${AndIf} ${FileExists} "$PrevDir\${UNINST_EXE}"
    StrCpy $PrevUninstaller "$PrevDir\${UNINST_EXE}"
    StrCpy $INSTDIR $PrevDir
    ${VersionCompare} "$PrevVersion" "${VERSION}" $0
    ${If} $0 == 1
      MessageBox MB_YESNO|MB_ICONQUESTION "$(Newer)" /SD IDYES IDYES downgrade
      Abort
      downgrade:
    ${EndIf}
  ${EndIf}
  ReadRegStr $PrevAutostart HKLM "${RUN_KEY}" "${APP_ID}"
  ${If} $PrevAutostart != ""
    !insertmacro SelectSection ${SecAutostart}
  ${EndIf}

  !insertmacro FindDriver "NETCA" $DriverNETCA ${SecNETCA}
  !insertmacro FindDriver "SZCA" $DriverSZCA ${SecSZCA}
  !insertmacro FindDriver "GDCA" $DriverGDCA ${SecGDCA}
FunctionEnd

Function un.onInit
  SetRegView 64
FunctionEnd

Function RunUnelevated
  ; The installer runs as administrator; start the client as the logged-in user.
  Exec '"$WINDIR\explorer.exe" "$INSTDIR\${GUI_EXE}"'
FunctionEnd

!macro CLOSE_RUNNING UN
Function ${UN}CloseRunning
  nsExec::ExecToStack 'cmd.exe /c tasklist /FI "IMAGENAME eq ${GUI_EXE}" /NH | find /I "${GUI_EXE}"'
  Pop $0
  Pop $1
  ${If} $0 == 0
    MessageBox MB_YESNO|MB_ICONEXCLAMATION "$(Running)" /SD IDYES IDYES close
    Abort
    close:
    nsExec::Exec 'taskkill /F /IM "${GUI_EXE}"'
    Pop $0
    Sleep 1000
  ${EndIf}
FunctionEnd
!macroend
!insertmacro CLOSE_RUNNING ""
!insertmacro CLOSE_RUNNING "un."
